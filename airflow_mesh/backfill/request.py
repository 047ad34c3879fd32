"""What a user asks for, validated once for the CLI, the JSON API and the UI alike."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_mesh.core.intervals import Period, as_utc
from airflow_mesh.core.planner.plan import Plan, plan_backfill
from airflow_mesh.core.registry.mesh import Mesh

MIN_YEAR, MAX_YEAR = 1900, 2200  # far-off dates overflow date arithmetic (year 9999 + a day): refused up front


class BackfillRequest(BaseModel):
    """A backfill: roots (tables, ``dag_id`` or ``dag_id.task_id``), a UTC range ``[start, end)`` and options."""

    model_config = ConfigDict(extra="forbid")

    roots: list[str] = Field(min_length=1, description="tables (db.table), dag_id or dag_id.task_id")
    start: datetime
    end: datetime
    downstream: bool = True
    depth: int | None = Field(None, ge=0, description="at most this many tables downstream (None: all)")
    stop_at_teams: list[str] = Field(default_factory=list)
    only_failed: bool = Field(False, description="skip existing runs whose selected tasks all succeeded")
    run_backwards: bool = Field(False, description="create/clear newest runs first")
    max_active_runs: int | None = Field(None, ge=1, le=1000, description=(
        "runs of this job running at once in each DAG (default: [mesh] backfill_max_active_runs)"))

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            value = as_utc(value)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00: its UTC instant is before year 1
            value = value.replace(tzinfo=None)
        else:
            if MIN_YEAR <= value.year <= MAX_YEAR:
                return value
        raise ValueError(f"{value.isoformat()} is outside the years {MIN_YEAR}-{MAX_YEAR} a backfill may cover. "
                         "Fix: give a date in that range")

    @model_validator(mode="after")
    def _range(self) -> BackfillRequest:
        if self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self

    @property
    def period(self) -> Period:
        return Period(self.start, self.end)

    def plan(self, mesh: Mesh, now: datetime) -> Plan:
        unknown = [t for t in self.stop_at_teams if t not in mesh.teams]
        if unknown:
            raise ValueError(f"stop_at_teams: unknown team(s) {', '.join(unknown)}; teams are {', '.join(sorted(mesh.teams))}")
        return plan_backfill(mesh, self.roots, self.period, now=now, downstream=self.downstream, depth=self.depth,
                             stop_at_teams=frozenset(self.stop_at_teams))
