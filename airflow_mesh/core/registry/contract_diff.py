"""What changed between two versions of a registry, for the teams the change reaches (pure).

Each table contract change is **breaking** (a consumer that works today can break: a column dropped or
retyped, the partitioning changed, ``public`` made ``private``, the schedule, time zone or timetable
changed, the table removed, its start date moved later) or **compatible** (a table or column added, a
comment changed, ``private`` made ``public``, the start date moved earlier, the producer or inputs
changed). A breaking change is *acknowledged* when the table's ``mesh.version`` goes up in the same change,
the way dbt's model versions announce a breaking contract change: CI refuses unacknowledged ones.

Who is reached is read from the **base** registry, where today's consumers are: every table downstream
of the changed one, their producer DAGs and owning teams (contacts and alert channels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from airflow_mesh.core.registry.mesh import Mesh
from airflow_mesh.core.registry.models import Table

Kind = Literal["breaking", "compatible"]


@dataclass(frozen=True)
class Reached:
    """A team downstream of a change: its tables and DAGs that read the changed table, and whom to tell."""

    team: str
    tables: tuple[str, ...]
    dags: tuple[str, ...]
    contacts: tuple[str, ...]
    channel: str | None


@dataclass(frozen=True)
class Change:
    """One contract change of one table, located in the file a reviewer reads (head's, or base's if removed)."""

    table: str
    kind: Kind
    what: str
    file: str
    line: int
    acknowledged: bool = False  # breaking, but mesh.version went up
    reached: tuple[Reached, ...] = field(default_factory=tuple)

    @property
    def refused(self) -> bool:
        return self.kind == "breaking" and not self.acknowledged


def diff_registries(base: Mesh, head: Mesh) -> list[Change]:
    """Every contract change from ``base`` to ``head``, breaking ones first, then by table."""
    changes: list[Change] = []
    for name in sorted(set(base.tables) | set(head.tables)):
        old, new = base.tables.get(name), head.tables.get(name)
        if new is None and old is not None:
            changes.append(_change(base, old, None, "breaking", "table removed", old.file, old.line))
        elif old is None and new is not None:
            changes.append(Change(name, "compatible", "table added", new.file, new.line))
        elif old is not None and new is not None:
            changes += [_change(base, old, new, kind, what, new.file, line) for kind, what, line in _table_changes(old, new)]
    return sorted(changes, key=lambda c: (c.kind != "breaking", c.table, c.line))


def _change(base: Mesh, old: Table, new: Table | None, kind: Kind, what: str, file: str, line: int) -> Change:
    acknowledged = kind == "breaking" and new is not None and new.version > old.version
    return Change(old.name, kind, what, file, line, acknowledged, _reached(base, old.name) if kind == "breaking" else ())


def _table_changes(old: Table, new: Table) -> list[tuple[Kind, str, int]]:
    out: list[tuple[Kind, str, int]] = []
    old_cols, new_cols = {c.name: c for c in old.columns}, {c.name: c for c in new.columns}
    for name, col in old_cols.items():
        if name not in new_cols:
            out.append(("breaking", f"column {name} dropped (or renamed)", new.line))
        elif new_cols[name].type.upper() != col.type.upper():
            out.append(("breaking", f"column {name} retyped {col.type} -> {new_cols[name].type}", new_cols[name].line))
        elif new_cols[name].comment != col.comment:
            out.append(("compatible", f"column {name} comment changed", new_cols[name].line))
    out += [("compatible", f"column {name} added ({col.type})", col.line)
            for name, col in new_cols.items() if name not in old_cols]
    if old.partitioned_by != new.partitioned_by:
        out.append(("breaking", f"partitioning changed {list(old.partitioned_by)} -> {list(new.partitioned_by)}",
                    new.line))
    out += _property_changes(old, new)
    return out


def _property_changes(old: Table, new: Table) -> list[tuple[Kind, str, int]]:
    out: list[tuple[Kind, str, int]] = []
    if old.access != new.access:
        kind: Kind = "breaking" if new.access == "private" else "compatible"
        out.append((kind, f"mesh.access {old.access} -> {new.access}", new.line_of("mesh.access")))
    for key, attr in (("mesh.schedule", "schedule"), ("mesh.timezone", "timezone"), ("mesh.timetable", "timetable")):
        if getattr(old, attr) != getattr(new, attr):
            out.append(("breaking", f"{key} {getattr(old, attr)} -> {getattr(new, attr)}", new.line_of(key)))
    if old.start_date != new.start_date:
        later = old.start_date is None or (new.start_date is not None and new.start_date > old.start_date)
        out.append(("breaking" if later else "compatible",
                    f"mesh.start_date {_day(old)} -> {_day(new)}", new.line_of("mesh.start_date")))
    if old.producer != new.producer:
        out.append(("compatible", f"mesh.producer {old.producer} -> {new.producer}", new.line_of("mesh.producer")))
    if set(old.inputs) != set(new.inputs):
        out.append(("compatible", f"mesh.inputs {', '.join(old.inputs) or '-'} -> {', '.join(new.inputs) or '-'}",
                    new.line_of("mesh.inputs")))
    if old.comment != new.comment:
        out.append(("compatible", "table comment changed", new.line))
    return out


def _day(t: Table) -> str:
    return t.start_date.isoformat() if t.start_date else "none"


def _reached(base: Mesh, table: str) -> tuple[Reached, ...]:
    downstream = [t for t in base.closure(table) if t != table]
    by_team: dict[str, list[Table]] = {}
    for name in downstream:
        by_team.setdefault(base.tables[name].team, []).append(base.tables[name])
    out = []
    for team_name, tables in sorted(by_team.items()):
        team = base.teams.get(team_name)
        out.append(Reached(
            team=team_name, tables=tuple(sorted(t.name for t in tables)),
            dags=tuple(sorted({t.producer_dag for t in tables})),
            contacts=tuple(f"{c.name} <{c.email}>" for c in team.contacts) if team else (),
            channel=team.alerts.channel if team else None))
    return tuple(out)
