"""What a parsed DAG declares about tables: the Airflow side of the ownership rules.

A task writes the mesh tables among its outlets and reads those among its inlets
(``ProduceTableOperator``, ``TableSensor`` and the Spark operator set these from
the registry; any other operator can declare them with
:func:`airflow_mesh.utils.assets.table_asset`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from airflow_mesh.core.contract import SUPPORTED_TIMETABLES, TimetableFacts
from airflow_mesh.core.intervals import Period, TimetableKind, as_utc
from airflow_mesh.core.registry.models import table_of_uri
from airflow_mesh.core.rules import DagFacts, TaskFacts
from airflow_mesh.core.source_lines import SourceLines
from airflow_mesh.utils.run_period import timetable_shape


def _tables(assets: Iterable[Any]) -> tuple[str, ...]:
    names = (table_of_uri(getattr(a, "uri", None)) for a in assets or ())
    return tuple(dict.fromkeys(n for n in names if n))


def dag_facts(dag: Any) -> DagFacts:
    """Extract the facts from an SDK ``DAG`` (or anything with the same attributes)."""
    tasks = tuple(
        TaskFacts(task_id=t.task_id, writes=_tables(t.outlets), reads=_tables(t.inlets))
        for t in dag.tasks)
    return DagFacts(dag_id=dag.dag_id, fileloc=dag.fileloc, tags=tuple(sorted(dag.tags or ())), tasks=tasks,
                    lines=source_lines(dag.fileloc))


def source_lines(fileloc: str | None) -> SourceLines:
    """Where the DAG file spells each ``task_id``/``dag_id`` literal (empty when it cannot be read)."""
    if not fileloc:
        return SourceLines()
    try:
        mtime = os.stat(fileloc).st_mtime_ns
    except OSError:
        return SourceLines()
    return _source_lines(fileloc, mtime)


@lru_cache(maxsize=256)
def _source_lines(fileloc: str, mtime: int) -> SourceLines:
    """Cached per file version: the dag processor re-parses often."""
    try:
        text = Path(fileloc).read_text(encoding="utf-8")
    except OSError:
        return SourceLines()
    found: dict[tuple[str, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for m in _KEY_VALUE.finditer(line):
            found.setdefault((m.group(1), m.group(3)), number)
    return SourceLines(MappingProxyType(found))


_KEY_VALUE = re.compile(r"\b(task_id|dag_id)\s*=\s*(['\"])([^'\"]+)\2")


#: Airflow runs sampled per probe, and probes (days after the DAG's start) for the contract check:
#: the start itself, then points across a year so both DST transitions of any zone are near one.
RUNS_PER_PROBE = 4
PROBE_DAYS = (0, 85, 170, 300)


def timetable_facts(dag: Any) -> TimetableFacts:
    """Ask Airflow's own timetable which runs the DAG makes, for :func:`airflow_mesh.core.contract.check_contract`."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    name, expression, tz = timetable_shape(dag.timetable)
    mapped = tuple(t.task_id for t in dag.tasks if isinstance(t, MappedOperator))
    summary = f"{expression} in {tz}" if expression else getattr(dag.timetable, "summary", name)
    runs: tuple = ()
    if name in SUPPORTED_TIMETABLES and dag.start_date is not None:
        runs = tuple(_sample_runs(dag, SUPPORTED_TIMETABLES[name]))
    return TimetableFacts(dag_id=dag.dag_id, fileloc=dag.fileloc, timetable=name, summary=summary,
                          runs=runs, mapped_tasks=mapped, lines=source_lines(dag.fileloc))


def _sample_runs(dag: Any, kind: TimetableKind) -> list[tuple[datetime, Period]]:
    """(logical date, period) of a few runs at each probe, from Airflow's core timetable."""
    import pendulum
    from airflow.timetables.base import TimeRestriction

    from airflow_mesh.airflow_compat import coerce_to_core_timetable

    timetable = coerce_to_core_timetable(dag.timetable)
    start = pendulum.instance(as_utc(dag.start_date)).in_timezone("UTC")  # the core timetables need pendulum
    out: list[tuple[datetime, Period]] = []
    for days in PROBE_DAYS:
        restriction = TimeRestriction(earliest=start + timedelta(days=days), latest=dag.end_date, catchup=True)
        last, infos = None, []
        for _ in range(RUNS_PER_PROBE + 1):
            info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
            if info is None or info.logical_date is None:
                break
            infos.append(info)
            last = info.data_interval
        dates = [as_utc(i.logical_date) for i in infos]
        if kind is TimetableKind.DATA_INTERVAL:
            out += [(d, Period(as_utc(i.data_interval.start), as_utc(i.data_interval.end))) for d, i in zip(dates, infos, strict=True)]
        else:  # the run at tick t covers [previous tick, t)
            out += [(d, Period(p, d)) for p, d in zip(dates, dates[1:], strict=False)]  # neighbours
    return out
