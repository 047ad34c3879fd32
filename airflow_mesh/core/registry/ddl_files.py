"""Reads ``ddl/<team>/<table>.sql`` (Spark SQL ``CREATE TABLE``) into :class:`Table` models.

The DDL is the table's contract. Mesh properties live in ``TBLPROPERTIES``:

* ``mesh.producer``   ``dag_id.task_id`` of the task that writes the table (required)
* ``mesh.schedule``   cron or preset of its partitions, e.g. ``@hourly`` (required)
* ``mesh.access``     ``public`` (other teams may read) or ``private`` (required)
* ``mesh.inputs``     comma-separated tables it is computed from (optional)
* ``mesh.start_date`` first period with data, ISO date (optional; a date without offset is local to
  ``mesh.timezone``)
* ``mesh.timezone``   IANA time zone the schedule is evaluated in, e.g. ``Europe/Amsterdam`` (default UTC)
* ``mesh.timetable``  ``trigger`` (default: ``CronTriggerTimetable``, logical date = period end) or
  ``data_interval`` (``CronDataIntervalTimetable``/``DeltaDataIntervalTimetable``, logical date = period start)
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from pathlib import Path

import sqlglot
from pydantic import ValidationError
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from airflow_mesh.core.intervals import UTC
from airflow_mesh.core.registry.models import Column, MeshError, Table

KNOWN_PROPERTIES = {"mesh.producer", "mesh.schedule", "mesh.access", "mesh.inputs", "mesh.start_date", "mesh.timezone",
                    "mesh.timetable"}
REQUIRED_PROPERTIES = ("mesh.producer", "mesh.schedule", "mesh.access")
TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
PRODUCER = re.compile(r"^[A-Za-z0-9_.-]+\.[A-Za-z0-9_-]+$")


def _line_at(text: str, needle: str, default: int) -> int:
    idx = text.find(needle)
    return text.count("\n", 0, idx) + 1 if idx >= 0 else default


def _comment(node: exp.ColumnDef) -> str | None:
    for c in node.args.get("constraints") or []:
        if isinstance(c.kind, exp.CommentColumnConstraint):
            return c.kind.this.name
    return None


def _column(node: exp.ColumnDef) -> tuple[str, str, str | None, int]:
    meta = node.this.meta or {}
    kind = node.args.get("kind")
    return node.name, kind.sql("spark") if kind is not None else "", _comment(node), meta.get("line", 1)


def _ends_inside_string(line: str) -> bool:
    """Whether a line leaves a '...' string open (``--`` comments outside strings ignored)."""
    in_string, i = False, 0
    while i < len(line):
        ch = line[i]
        if not in_string and line.startswith("--", i):
            return False
        if in_string and ch == "\\":
            i += 2
            continue
        if ch == "'":
            if in_string and line.startswith("''", i):
                i += 2
                continue
            in_string = not in_string
        i += 1
    return in_string


def _token_error(text: str, display: str, error: TokenError) -> MeshError:
    """Locate a tokenizer error (sqlglot's carries no position).

    The usual cause is an unbalanced quote, e.g. an apostrophe inside a COMMENT:
    point at the first line with an odd number of quotes. Otherwise point at the
    text the tokenizer quotes in its message.
    """
    for no, line in enumerate(text.splitlines(), start=1):
        if _ends_inside_string(line):
            return MeshError(file=display, line=no, message="unbalanced single quote",
                             fix="write an apostrophe inside a string as \\' or ''")
    snippet = str(error).partition("'")[2].rstrip("'")[:40]
    line = _line_at(text, snippet, 1) if snippet else 1
    return MeshError(file=display, line=line, message=f"not valid Spark SQL: {error}",
                     fix="check quotes and parentheses")


def declared_name(path: Path) -> str:
    """The table a file is meant to define (``<team folder>`` is not the db): used to
    avoid knock-on "input not defined" errors for a table whose DDL is merely invalid."""
    return path.stem.lower()


def parse_ddl_file(path: Path, display: str, team: str) -> tuple[Table | None, list[MeshError]]:
    """Parse one DDL file; return its table or every error found in it."""
    text = path.read_text(encoding="utf-8")

    def err(line: int, message: str, fix: str = "") -> MeshError:
        return MeshError(file=display, line=line, message=message, fix=fix)

    try:
        statements = [s for s in sqlglot.parse(text, read="spark") if s is not None]
    except ParseError as e:
        first = e.errors[0] if e.errors else {}
        return None, [err(first.get("line") or 1, f"not valid Spark SQL: {first.get('description') or e}",
                          "correct the CREATE TABLE statement")]
    except TokenError as e:
        return None, [_token_error(text, display, e)]
    creates = [s for s in statements if isinstance(s, exp.Create) and s.kind == "TABLE"]
    if len(statements) != 1 or len(creates) != 1:
        found = ", ".join(s.key.upper() for s in statements) or "nothing"
        return None, [err(1, f"expected exactly one CREATE TABLE statement, found: {found}",
                          "keep one CREATE TABLE per file")]
    create = creates[0]
    schema = create.this
    if not isinstance(schema, exp.Schema) or not isinstance(schema.this, exp.Table):
        return None, [err(1, "CREATE TABLE has no column list", "declare the columns with their types and comments")]
    table_node = schema.this
    table_line = (table_node.this.meta or {}).get("line", 1)
    name = ".".join(p for p in (table_node.db, table_node.name) if p).lower()
    errors: list[MeshError] = []
    if not TABLE_NAME.match(name):
        errors.append(err(table_line, f"table name '{name}' is not '<database>.<table>'",
                          "write CREATE TABLE <database>.<table>"))
    if path.stem.lower() != name.split(".")[-1]:
        errors.append(err(table_line, f"file {path.name} defines table '{name}'",
                          f"name the file {name.split('.')[-1]}.sql"))

    columns: list[Column] = []
    raw_columns = [(_column(c), False) for c in schema.expressions if isinstance(c, exp.ColumnDef)]
    props = create.args.get("properties")
    partitioned_by: list[str] = []
    table_comment = None
    tblprops: dict[str, str] = {}
    for prop in props.expressions if props else []:
        if isinstance(prop, exp.PartitionedByProperty):
            for part in prop.this.expressions if isinstance(prop.this, exp.Schema) else [prop.this]:
                if isinstance(part, exp.ColumnDef):
                    raw_columns.append((_column(part), True))
                    partitioned_by.append(part.name)
                else:
                    partitioned_by.append(part.name)
        elif isinstance(prop, exp.SchemaCommentProperty):
            table_comment = prop.this.name
        elif isinstance(prop, exp.Property) and isinstance(prop.this, exp.Literal):
            tblprops[prop.this.name] = prop.args["value"].name if prop.args.get("value") is not None else ""

    seen: set[str] = set()
    for (col_name, col_type, comment, line), is_part in raw_columns:
        if col_name in seen:
            errors.append(err(line, f"column '{col_name}' is declared twice", "remove one declaration"))
        seen.add(col_name)
        if not comment or not comment.strip():
            errors.append(err(line, f"column '{col_name}' has no COMMENT",
                              f"add COMMENT '<what {col_name} means>' (every column is documented)"))
        columns.append(Column(name=col_name, type=col_type, comment=comment or "", line=line,
                              partition=is_part or col_name in partitioned_by))
    for part in partitioned_by:
        if part not in seen:
            errors.append(err(_line_at(text, "PARTITIONED BY", table_line),
                              f"partition column '{part}' is not a column of the table",
                              "declare it in the column list or in PARTITIONED BY with its type"))
    if not table_comment:
        errors.append(err(table_line, f"table '{name}' has no COMMENT", "add COMMENT '<what the table holds>'"))

    lines = {k: _line_at(text, f"'{k}'", table_line) for k in tblprops}
    for key in sorted(set(tblprops) - KNOWN_PROPERTIES):
        if key.startswith("mesh."):
            errors.append(err(lines[key], f"unknown mesh property '{key}'",
                              f"use one of {', '.join(sorted(KNOWN_PROPERTIES))}"))
    for key in REQUIRED_PROPERTIES:
        if not tblprops.get(key):
            errors.append(err(_line_at(text, "TBLPROPERTIES", table_line), f"missing TBLPROPERTIES '{key}'",
                              f"add '{key}' = '...' (see docs/registry.md)"))
    producer = tblprops.get("mesh.producer", "")
    if producer and not PRODUCER.match(producer):
        errors.append(err(lines["mesh.producer"], f"mesh.producer '{producer}' is not 'dag_id.task_id'",
                          "name the DAG and the task that write the table"))
    access = tblprops.get("mesh.access", "")
    if access and access not in ("public", "private"):
        errors.append(err(lines["mesh.access"], f"mesh.access '{access}' is neither 'public' nor 'private'",
                          "set 'public' to let other teams read it, 'private' otherwise"))
    start_date = None
    tz_name = tblprops.get("mesh.timezone") or "UTC"
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC  # reported by the Table model's validator, with the line of mesh.timezone
    if tblprops.get("mesh.start_date"):
        try:
            start_date = datetime.fromisoformat(tblprops["mesh.start_date"])
            start_date = start_date.replace(tzinfo=zone) if start_date.tzinfo is None else start_date
            start_date = start_date.astimezone(UTC)
        except ValueError:
            errors.append(err(lines["mesh.start_date"], f"mesh.start_date '{tblprops['mesh.start_date']}' is not an ISO date",
                              "write e.g. '2026-01-01' or '2026-01-01T00:00'"))
    inputs = tuple(i.strip().lower() for i in tblprops.get("mesh.inputs", "").split(",") if i.strip())
    for i in inputs:
        if not TABLE_NAME.match(i):
            errors.append(err(lines["mesh.inputs"], f"mesh.inputs entry '{i}' is not '<database>.<table>'",
                              "list input tables separated by commas"))
    if errors:
        return None, errors
    dag_id, _, task_id = producer.rpartition(".")
    try:
        table = Table(name=name, team=team, file=display, line=table_line, comment=table_comment or "",
                      columns=tuple(columns), partitioned_by=tuple(partitioned_by), producer_dag=dag_id,
                      producer_task=task_id, schedule=tblprops["mesh.schedule"], timezone=tz_name,
                      timetable=tblprops.get("mesh.timetable") or "trigger", access=access,
                      start_date=start_date, inputs=inputs, lines=lines)
    except ValidationError as e:
        return None, [err(lines.get(f"mesh.{str(x['loc'][0])}", table_line), f"mesh.{x['loc'][0]}: {x['msg']}",
                          "correct the property") for x in e.errors()]
    return table, []
