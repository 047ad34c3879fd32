"""What bringing a catalog table to its DDL takes (pure): the safe steps, or why it cannot be done.

Safe: add a column (Spark adds them nullable), change a column's or the table's comment. Spark cannot
change a partition column's comment (``CANNOT_ALTER_PARTITION_COLUMN``): that difference is a note. Everything else (a column dropped or retyped, partitioning changed) would break readers or
rewrite data, so it is refused with a located error, like every other registry error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from airflow_mesh.core.registry.models import MeshError, Table


@dataclass(frozen=True)
class CatalogColumn:
    """A column as the catalog has it (type in Spark's own spelling, e.g. ``decimal(18,2)``)."""

    name: str
    type: str
    comment: str
    partition: bool


@dataclass(frozen=True)
class SchemaStep:
    """One safe change, as Spark SQL, and what it does in words."""

    what: str
    sql: str


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class SchemaPlan:
    """The safe steps (none when anything is refused), the refusals, and what stays as it is."""

    steps: tuple[SchemaStep, ...]
    errors: tuple[MeshError, ...]
    notes: tuple[str, ...] = ()


def plan_schema_changes(table: Table, catalog: list[CatalogColumn], catalog_comment: str,
                        spark_type: Callable[[str], str]) -> SchemaPlan:
    """What makes ``catalog`` match ``table``'s DDL. ``spark_type`` spells a DDL type as the catalog does."""
    have = {c.name.lower(): c for c in catalog}
    steps: list[SchemaStep] = []
    errors: list[MeshError] = []
    notes: list[str] = []
    fix = ("a breaking change needs a new table (or a migration the owners run by hand); see "
           "'airflow-mesh diff' for who reads it")
    for col in table.columns:
        now = have.pop(col.name.lower(), None)
        if now is None:
            if col.partition:
                errors.append(MeshError(file=table.file, line=col.line, fix=fix,
                                        message=f"{table.name}: partition column {col.name} is not in the catalog's table"))
            else:
                steps.append(SchemaStep(f"add column {col.name} {col.type}",
                                        f"ALTER TABLE {table.name} ADD COLUMNS ({col.name} {col.type} COMMENT {_quote(col.comment)})"))
            continue
        if spark_type(col.type) != now.type:
            errors.append(MeshError(file=table.file, line=col.line, fix=fix,
                                    message=f"{table.name}: column {col.name} is {now.type} in the catalog, the DDL says {col.type}"))
        elif col.partition != now.partition:
            errors.append(MeshError(file=table.file, line=col.line, fix=fix,
                                    message=f"{table.name}: column {col.name} is {'' if now.partition else 'not '}a partition "
                                            "column in the catalog"))
        elif col.comment != now.comment and col.partition:
            notes.append(f"the comment of partition column {col.name} stays as it is (Spark cannot change it)")
        elif col.comment != now.comment:
            steps.append(SchemaStep(f"comment of column {col.name}",
                                    f"ALTER TABLE {table.name} ALTER COLUMN {col.name} COMMENT {_quote(col.comment)}"))
    errors += [MeshError(file=table.file, line=table.line, fix=fix,
                         message=f"{table.name}: column {name} is in the catalog but not in the DDL (dropping it is refused)")
               for name in sorted(have)]
    if table.comment != catalog_comment:
        steps.append(SchemaStep("table comment", f"ALTER TABLE {table.name} SET TBLPROPERTIES ('comment' = {_quote(table.comment)})"))
    return SchemaPlan(() if errors else tuple(steps), tuple(errors), tuple(notes))
