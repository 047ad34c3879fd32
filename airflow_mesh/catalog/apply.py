"""``airflow-mesh schema apply``: every registered table in the Spark catalog, as its DDL says.

All of it is planned before anything runs: Spark parses every DDL file, each existing table is compared
with its DDL, and if any file is refused (Spark rejects it, or its change is unsafe) nothing is applied,
so a registry is never half-applied. Then missing tables are created from their own ``CREATE TABLE`` and
existing ones get their safe steps (see :mod:`airflow_mesh.core.registry.schema_changes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from airflow_mesh.catalog.spark_catalog import SparkCatalog
from airflow_mesh.core.registry.mesh import Mesh
from airflow_mesh.core.registry.models import MeshError
from airflow_mesh.core.registry.schema_changes import SchemaStep, plan_schema_changes

Action = Literal["create", "change", "unchanged", "refused"]


@dataclass(frozen=True)
class TablePlan:
    table: str
    action: Action
    steps: tuple[SchemaStep, ...] = ()
    errors: tuple[MeshError, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class SchemaReport:
    tables: list[TablePlan] = field(default_factory=list)
    applied: bool = False
    done: list[str] = field(default_factory=list)  # what ran, in order (said when a later step fails)
    failure: str | None = None  # the catalog's error that stopped the run

    @property
    def errors(self) -> list[MeshError]:
        return [e for t in self.tables for e in t.errors]


def parse_errors(mesh: Mesh, catalog: SparkCatalog) -> list[MeshError]:
    """Spark's verdict on every DDL file of the registry (``validate --spark``)."""
    root = Path(mesh.root)
    errors = []
    for t in sorted(mesh.tables.values(), key=lambda t: t.file):
        if (error := catalog.parse_error((root / t.file).read_text(encoding="utf-8"), t.file)) is not None:
            errors.append(error)
    return errors


def apply_schema(mesh: Mesh, catalog: SparkCatalog, *, dry_run: bool) -> SchemaReport:
    """Plan every table, then (unless ``dry_run`` or anything is refused) apply the plan."""
    report = SchemaReport()
    parse = {e.file: e for e in parse_errors(mesh, catalog)}
    for t in sorted(mesh.tables.values(), key=lambda t: t.name):
        if t.file in parse:
            report.tables.append(TablePlan(t.name, "refused", errors=(parse[t.file],)))
            continue
        now = catalog.table(t.name)
        if now is None:
            report.tables.append(TablePlan(t.name, "create"))
            continue
        plan = plan_schema_changes(t, now.columns, now.comment, catalog.spark_type)
        action: Action = "refused" if plan.errors else "change" if plan.steps else "unchanged"
        report.tables.append(TablePlan(t.name, action, plan.steps, plan.errors, plan.notes))
    if dry_run or report.errors:
        return report
    _run(mesh, catalog, report)
    return report


def _run(mesh: Mesh, catalog: SparkCatalog, report: SchemaReport) -> None:
    """Apply the plan in order. A metastore has no transaction across statements: when one fails, the
    report says what already ran and what stopped it, so nothing is half-applied silently."""
    root = Path(mesh.root)
    for plan in report.tables:
        work: list[tuple[str, str | None]] = [(f"{plan.table}: {s.what}", s.sql) for s in plan.steps]
        if plan.action == "create":
            work.insert(0, (f"{plan.table}: created", None))
        for what, sql in work:
            try:
                if sql is None:
                    table = mesh.tables[plan.table]
                    catalog.create(table, (root / table.file).read_text(encoding="utf-8"))
                else:
                    catalog.run(sql)
            except Exception as err:  # the catalog's own error, shown whole: the run stops here
                report.failure = f"{what} failed: {' '.join(str(err).split())[:500]}"
                return
            report.done.append(what)
    report.applied = True
