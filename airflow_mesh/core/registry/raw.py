"""What a DDL file says, before any contract check: the common output of both DDL readers.

The sqlglot reader and the fast reader (:mod:`airflow_mesh.core.registry.ddl_fast`) both produce a
:class:`RawTable`; the checks in :mod:`airflow_mesh.core.registry.ddl_files` run on it, so errors do
not depend on which reader read a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawColumn:
    name: str
    type: str  # as sqlglot renders it for Spark, e.g. "DECIMAL(18, 2)"
    comment: str | None
    line: int
    partition: bool  # declared (with its type) inside PARTITIONED BY


@dataclass
class RawTable:
    name: str  # db.table, lower case as written (may be malformed: checked later)
    line: int  # line of the table name
    columns: list[RawColumn] = field(default_factory=list)
    partitioned_by: list[str] = field(default_factory=list)
    comment: str | None = None
    properties: dict[str, str] = field(default_factory=dict)  # TBLPROPERTIES, last value wins
