"""Which producer runs a consumer needs, and whether they are done: the sensor's pure logic.

The sensor and its trigger only fetch task states through the Task SDK; every
decision (which logical dates, how many must have succeeded, what counts as
failure, what the message says) is made here, without Airflow, so it can be
tested without a DB (tests/unit/core/test_coverage.py) and is shared by poke, reschedule and
deferrable modes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from airflow_mesh.core.contract import table_grid
from airflow_mesh.core.intervals import Grain, Grid, Period, RunRange, TimetableKind, grid_for, iso, runs_overlapping
from airflow_mesh.core.registry.mesh import Mesh

#: Logical dates sent per Execution API call (a GET with the dates as query parameters).
#: 1,000 covers every schedule pair up to hourly->monthly in one call; the URL is then
#: 48 kB, which uvicorn (httptools and h11) accepts. Beyond it, one call per 1,000.
DATES_PER_CALL = 1000
DEFAULT_FAILED_STATES = ("failed", "upstream_failed")
ON_UNAVAILABLE = ("fail", "skip", "partial")
_ADVERB = {Grain.MINUTE: "", Grain.HOUR: "hourly", Grain.DAY: "daily", Grain.WEEK: "weekly",
           Grain.MONTH: "monthly", Grain.QUARTER: "quarterly", Grain.YEAR: "yearly", Grain.CRON: ""}
_RUN_ID_DATE = re.compile(r"__(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})")

#: ``fetch(dag_id, task_id, logical_dates) -> {run_id: {task_id: state}}``: Task SDK ``get_task_states``.
FetchStates = Callable[[str, str, list[datetime]], dict[str, dict[str, str | None]]]
#: The same, awaited (the triggerer's async path to the Execution API).
AsyncFetchStates = Callable[[str, str, list[datetime]], Awaitable[dict[str, dict[str, str | None]]]]


def check_on_unavailable(value: str) -> str:
    """Reject an ``on_unavailable`` that is not one of :data:`ON_UNAVAILABLE`."""
    if value not in ON_UNAVAILABLE:
        raise ValueError(f"on_unavailable must be one of {ON_UNAVAILABLE}, not {value!r}")
    return value


class DataUnavailable(Exception):
    """The producer has no data for (part of) the consumer's period: waiting would never end."""


@dataclass(frozen=True)
class Requirement:
    """The producer runs of one table that must succeed for one consumer period."""

    table: str
    team: str
    contact: str
    dag_id: str
    task_id: str
    schedule: str
    period_start: datetime
    period_end: datetime
    first: datetime | None  # period end of the first required producer run; None: nothing required
    last: datetime | None  # period end of the last one
    timezone: str = "UTC"  # the producer table's mesh.timezone
    timetable: str = TimetableKind.TRIGGER.value  # its mesh.timetable: which instant is a run's logical date

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)

    @property
    def grid(self) -> Grid:
        return grid_for(self.schedule, self.timezone)

    def _runs(self) -> RunRange | None:
        if self.first is None or self.last is None:
            return None
        return RunRange(self.grid, self.first, self.last)

    @property
    def expected(self) -> int:
        runs = self._runs()
        return runs.count if runs else 0

    def logical_dates(self) -> list[datetime]:
        """The logical dates of the required producer runs (period ends, or starts for data-interval timetables)."""
        runs = self._runs()
        return list(runs.logical_dates(self.timetable)) if runs else []

    def to_json(self) -> dict:
        data = asdict(self)
        for k in ("period_start", "period_end", "first", "last"):
            data[k] = data[k].isoformat() if data[k] else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> Requirement:
        data = dict(data)
        for k in ("period_start", "period_end", "first", "last"):
            data[k] = datetime.fromisoformat(data[k]) if data[k] else None
        return cls(**data)


def requirements_for(mesh: Mesh, tables: Iterable[str], period: Period,
                     on_unavailable: str = "fail") -> list[Requirement]:
    """The producer runs each table needs for ``period``.

    A table whose ``mesh.start_date`` falls after the period start has no data for
    part of it. ``on_unavailable``: ``fail`` raises :class:`DataUnavailable` (the
    sensor fails at once, saying so), ``skip`` raises it too (the sensor skips),
    ``partial`` waits only for the runs from the start date on.
    """
    check_on_unavailable(on_unavailable)
    out: list[Requirement] = []
    for name in tables:
        t = mesh.table(name)
        team = mesh.teams[t.team]
        grid = table_grid(t)
        wanted = period
        if t.start_date is not None and t.start_date > period.start:
            if on_unavailable != "partial":
                raise DataUnavailable(
                    f"{t.name} (team {team.name}, contact {team.contact_line}) has data only from "
                    f"{iso(t.start_date)} (mesh.start_date), but this run needs {period}: "
                    f"it would wait forever. Start the consumer later, or use on_unavailable='partial'.")
            wanted = Period(min(t.start_date, period.end), period.end)
        runs = runs_overlapping(grid, wanted)
        out.append(Requirement(
            table=t.name, team=team.name, contact=team.contact_line, dag_id=t.producer_dag,
            task_id=t.producer_task, schedule=t.schedule, period_start=period.start, period_end=period.end,
            first=runs.first if runs else None, last=runs.last if runs else None,
            timezone=t.timezone, timetable=t.timetable))
    return out


@dataclass
class TableStatus:
    """What the producer runs of one requirement look like now."""

    requirement: Requirement
    succeeded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)   # (run label, state)
    pending: list[tuple[str, str]] = field(default_factory=list)  # (run label, state)
    missing: int = 0

    @property
    def done(self) -> bool:
        return self.succeeded >= self.requirement.expected

    def describe(self) -> str:
        r = self.requirement
        grain = _ADVERB[r.grid.grain]
        not_done = r.expected - self.succeeded
        head = (f"{r.table} (team {r.team}, contact {r.contact}): {not_done} of {r.expected} "
                f"{grain or 'scheduled'} {'run' if r.expected == 1 else 'runs'} of {r.dag_id}.{r.task_id}"
                f"{'' if grain else f' ({r.schedule})'} "
                f"not done for period {r.period}")
        parts = [f"{label} {state}" for label, state in self.failed + self.pending]
        if self.missing:
            parts.append(f"{self.missing} not created yet")
        shown = parts[:12]
        more = f", and {len(parts) - 12} more" if len(parts) > 12 else ""
        return f"{head}: {', '.join(shown)}{more}" if shown else head


def run_label(run_id: str) -> str:
    """A run's logical date when its run id carries one (scheduled, manual, backfill), else the run id."""
    m = _RUN_ID_DATE.search(run_id)
    return m.group(1) if m else run_id


def date_batches(req: Requirement) -> list[list[datetime]]:
    """The logical dates of ``req`` as Execution API calls: one call up to :data:`DATES_PER_CALL` dates.

    Every schedule pair up to hourly->monthly (744 dates) and daily->yearly (366) is one call.
    """
    dates = req.logical_dates()
    return [dates[i:i + DATES_PER_CALL] for i in range(0, len(dates), DATES_PER_CALL)]


def judge(req: Requirement, answers: Iterable[tuple[list[datetime], dict[str, dict[str, str | None]]]],
          failed_states: Iterable[str] = DEFAULT_FAILED_STATES) -> TableStatus:
    """A requirement's status from the answers to its :func:`date_batches` (``(dates, {run_id: {task: state}})``)."""
    failed_states = set(failed_states)
    status = TableStatus(req)
    for chunk, runs in answers:
        seen = 0
        for run_id, tasks in sorted(runs.items()):
            if req.task_id not in tasks:
                continue
            seen += 1
            state = tasks[req.task_id]
            if state == "success":
                status.succeeded += 1
            elif state in failed_states:
                status.failed.append((run_label(run_id), state))
            else:
                status.pending.append((run_label(run_id), state or "queued"))
        status.missing += len(chunk) - seen
    return status


def check_requirement(req: Requirement, fetch: FetchStates,
                      failed_states: Iterable[str] = DEFAULT_FAILED_STATES) -> TableStatus:
    """Fetch the producer task's states for the required logical dates and judge them."""
    return judge(req, ((chunk, fetch(req.dag_id, req.task_id, chunk)) for chunk in date_batches(req)), failed_states)


def verdict(reqs: list[Requirement], statuses: list[TableStatus]) -> tuple[str, str, list[TableStatus]]:
    """``("success" | "failed" | "waiting", message, statuses)`` for all tables of one sensor.

    Failure wins: one failed producer run fails the sensor at once, naming the
    owner, even if other tables are still running.
    """
    failed = [s for s in statuses if s.failed]
    if failed:
        return "failed", "Upstream producer failed. " + "; ".join(s.describe() for s in failed), statuses
    waiting = [s for s in statuses if not s.done]
    if waiting:
        return "waiting", "Waiting for " + "; ".join(s.describe() for s in waiting), statuses
    total = sum(r.expected for r in reqs)
    return "success", f"All {total} producer run(s) of {', '.join(r.table for r in reqs)} succeeded", statuses


def evaluate(reqs: list[Requirement], fetch: FetchStates,
             failed_states: Iterable[str] = DEFAULT_FAILED_STATES) -> tuple[str, str, list[TableStatus]]:
    """Check every requirement (sync: poke and reschedule modes) and give the :func:`verdict`."""
    return verdict(reqs, [check_requirement(r, fetch, failed_states) for r in reqs])


async def aevaluate(reqs: list[Requirement], afetch: AsyncFetchStates,
                    failed_states: Iterable[str] = DEFAULT_FAILED_STATES) -> tuple[str, str, list[TableStatus]]:
    """:func:`evaluate` for the triggerer: every call of every requirement in flight at once."""
    batches = [date_batches(r) for r in reqs]
    answers = await asyncio.gather(*(afetch(r.dag_id, r.task_id, chunk) for r, b in zip(reqs, batches, strict=True) for chunk in b))
    it = iter(answers)
    statuses = [judge(r, [(chunk, next(it)) for chunk in b], failed_states) for r, b in zip(reqs, batches, strict=True)]
    return verdict(reqs, statuses)
