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
* ``mesh.version``    the contract's version, a whole number (default 1): raised with a breaking change
  (``airflow-mesh diff``)

Reading happens in two steps: a reader turns the text into a :class:`RawTable` (the fast reader
for the common shape, sqlglot for anything else), then :func:`table_from_ddl` checks it and builds
the :class:`Table`. sqlglot is imported only when a file needs it.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from airflow_mesh.core.intervals import UTC
from airflow_mesh.core.registry.ddl_fast import read_simple_ddl
from airflow_mesh.core.registry.models import Column, MeshError, Table
from airflow_mesh.core.registry.raw import RawColumn, RawTable

KNOWN_PROPERTIES = {"mesh.producer", "mesh.schedule", "mesh.access", "mesh.inputs", "mesh.start_date", "mesh.timezone",
                    "mesh.timetable", "mesh.version"}
REQUIRED_PROPERTIES = ("mesh.producer", "mesh.schedule", "mesh.access")
TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
PRODUCER = re.compile(r"^[A-Za-z0-9_.-]+\.[A-Za-z0-9_-]+$")
# A name Spark accepts unquoted (letters, digits, '_'; not only digits): what every engine and page can
# show as is. Backquoted names could hold anything, markup included.
COLUMN_NAME = re.compile(r"^(?![0-9]+$)[A-Za-z0-9_]+$")
_CREATE_NAME = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:EXTERNAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                          r"`?([A-Za-z0-9_]+)`?\s*\.\s*`?([A-Za-z0-9_]+)`?", re.IGNORECASE)


def _line_at(text: str, needle: str, default: int) -> int:
    idx = text.find(needle)
    return text.count("\n", 0, idx) + 1 if idx >= 0 else default


def declared_name(text: str | None, stem: str) -> str:
    """The table a file is meant to define, even when its DDL is invalid: used to avoid knock-on
    "input not defined" errors for that table only. ``db.table`` when the CREATE line says it,
    else the file's stem (then only inputs of that exact short name are spared)."""
    m = _CREATE_NAME.search(text or "")
    return f"{m.group(1)}.{m.group(2)}".lower() if m else stem.lower()


# ---- step 1: read the text (sqlglot; the fast reader is in ddl_fast) ---------------------------------

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


def _token_error(text: str, display: str, error: Exception) -> MeshError:
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
    at = _line_at(text, snippet, 1) if snippet else 1
    return MeshError(file=display, line=at, message=f"not valid Spark SQL: {error}",
                     fix="check quotes and parentheses")


def _sqlglot_column(node, partition: bool) -> RawColumn:
    from sqlglot import exp

    comment = None
    for c in node.args.get("constraints") or []:
        if isinstance(c.kind, exp.CommentColumnConstraint):
            comment = c.kind.this.name
            break
    kind = node.args.get("kind")
    return RawColumn(node.name, kind.sql("spark") if kind is not None else "", comment,
                     (node.this.meta or {}).get("line", 1), partition)


def read_ddl_with_sqlglot(text: str, display: str) -> tuple[RawTable | None, list[MeshError]]:
    """Any Spark SQL: sqlglot's parse of the file, or the located syntax error."""
    from sqlglot import exp

    def err(message: str, fix: str, line: int = 1) -> tuple[None, list[MeshError]]:
        return None, [MeshError(file=display, line=line, message=message, fix=fix)]

    statements, errors = _sqlglot_statements(text, display)
    if errors:
        return None, errors
    creates = [s for s in statements if isinstance(s, exp.Create) and s.kind == "TABLE"]
    if len(statements) != 1 or len(creates) != 1:
        found = ", ".join(s.key.upper() for s in statements) or "nothing"
        return err(f"expected exactly one CREATE TABLE statement, found: {found}", "keep one CREATE TABLE per file")
    create = creates[0]
    schema = create.this
    if not isinstance(schema, exp.Schema) or not isinstance(schema.this, exp.Table):
        return err("CREATE TABLE has no column list", "declare the columns with their types and comments")
    table_node = schema.this
    raw = RawTable(name=".".join(p for p in (table_node.db, table_node.name) if p).lower(),
                   line=(table_node.this.meta or {}).get("line", 1))
    raw.columns = [_sqlglot_column(c, False) for c in schema.expressions if isinstance(c, exp.ColumnDef)]
    _read_sqlglot_properties(raw, create.args.get("properties"))
    return raw, []


def _sqlglot_statements(text: str, display: str) -> tuple[list, list[MeshError]]:
    """sqlglot's statements of the file, or the one located error that stopped the parse.

    Its own step so the three ways a parse fails (syntax, tokens, nesting) each get their own message.
    """
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        return [s for s in sqlglot.parse(text, read="spark") if s is not None], []
    except ParseError as e:
        first = e.errors[0] if e.errors else {}
        return [], [MeshError(file=display, line=first.get("line") or 1,
                              message=f"not valid Spark SQL: {first.get('description') or e}",
                              fix="correct the CREATE TABLE statement")]
    except TokenError as e:
        return [], [_token_error(text, display, e)]
    except RecursionError:
        return [], [MeshError(file=display, line=1, message="nested too deeply to be a table contract",
                              fix="declare plain columns with their types")]


def _read_sqlglot_properties(raw: RawTable, props) -> None:
    """Copy the CREATE TABLE's properties into ``raw``: PARTITIONED BY (columns and names), COMMENT, and
    TBLPROPERTIES (the mesh contract) as key -> string value."""
    from sqlglot import exp

    for prop in props.expressions if props else []:
        if isinstance(prop, exp.PartitionedByProperty):
            for part in prop.this.expressions if isinstance(prop.this, exp.Schema) else [prop.this]:
                if isinstance(part, exp.ColumnDef):
                    raw.columns.append(_sqlglot_column(part, True))
                raw.partitioned_by.append(part.name)
        elif isinstance(prop, exp.SchemaCommentProperty):
            raw.comment = prop.this.name
        elif isinstance(prop, exp.Property) and isinstance(prop.this, exp.Literal):
            raw.properties[prop.this.name] = prop.args["value"].name if prop.args.get("value") is not None else ""


def read_ddl(text: str, display: str) -> tuple[RawTable | None, list[MeshError]]:
    """The fast reader when the file has the common shape, else sqlglot."""
    raw = read_simple_ddl(text)
    return (raw, []) if raw is not None else read_ddl_with_sqlglot(text, display)


# ---- step 2: check the contract and build the Table ------------------------------------------------

class _Errors(list):
    """The errors of one file, each located in it."""

    def __init__(self, display: str) -> None:
        super().__init__()
        self.display = display

    def add(self, line: int, message: str, fix: str) -> None:
        self.append(MeshError(file=self.display, line=line, message=message, fix=fix))


def _check_name(raw: RawTable, stem: str, errors: _Errors) -> None:
    if not TABLE_NAME.match(raw.name):
        errors.add(raw.line, f"table name '{raw.name}' is not '<database>.<table>'", "write CREATE TABLE <database>.<table>")
    if stem.lower() != raw.name.split(".")[-1]:
        errors.add(raw.line, f"file {stem}.sql defines table '{raw.name}'", f"name the file {raw.name.split('.')[-1]}.sql")


def _check_columns(raw: RawTable, text: str, errors: _Errors) -> list[Column]:
    columns: list[Column] = []
    seen: set[str] = set()
    for c in raw.columns:
        if not COLUMN_NAME.match(c.name):
            errors.add(c.line, f"column name {c.name!r} is not a plain Spark identifier",
                       "use letters, digits and '_' only (not only digits)")
        if c.name in seen:
            errors.add(c.line, f"column '{c.name}' is declared twice", "remove one declaration")
        seen.add(c.name)
        if not c.comment or not c.comment.strip():
            errors.add(c.line, f"column '{c.name}' has no COMMENT",
                       f"add COMMENT '<what {c.name} means>' (every column is documented)")
        columns.append(Column(name=c.name, type=c.type, comment=c.comment or "", line=c.line,
                              partition=c.partition or c.name in raw.partitioned_by))
    for part in raw.partitioned_by:
        if part not in seen:
            errors.add(_line_at(text, "PARTITIONED BY", raw.line), f"partition column '{part}' is not a column of the table",
                       "declare it in the column list or in PARTITIONED BY with its type")
    if not raw.comment:
        errors.add(raw.line, f"table '{raw.name}' has no COMMENT", "add COMMENT '<what the table holds>'")
    return columns


def _check_properties(raw: RawTable, text: str, lines: dict[str, int], errors: _Errors) -> None:
    props = raw.properties
    for key in sorted(set(props) - KNOWN_PROPERTIES):
        if key.startswith("mesh."):
            errors.add(lines[key], f"unknown mesh property '{key}'", f"use one of {', '.join(sorted(KNOWN_PROPERTIES))}")
    for key in REQUIRED_PROPERTIES:
        if not props.get(key):
            errors.add(_line_at(text, "TBLPROPERTIES", raw.line), f"missing TBLPROPERTIES '{key}'",
                       f"add '{key}' = '...' (see docs/registry.md)")
    producer = props.get("mesh.producer", "")
    if producer and not PRODUCER.match(producer):
        errors.add(lines["mesh.producer"], f"mesh.producer '{producer}' is not 'dag_id.task_id'",
                   "name the DAG and the task that write the table")
    access = props.get("mesh.access", "")
    if access and access not in ("public", "private"):
        errors.add(lines["mesh.access"], f"mesh.access '{access}' is neither 'public' nor 'private'",
                   "set 'public' to let other teams read it, 'private' otherwise")
    for i in _inputs(raw):
        if not TABLE_NAME.match(i):
            errors.add(lines["mesh.inputs"], f"mesh.inputs entry '{i}' is not '<database>.<table>'",
                       "list input tables separated by commas")


def _inputs(raw: RawTable) -> tuple[str, ...]:
    return tuple(i.strip().lower() for i in raw.properties.get("mesh.inputs", "").split(",") if i.strip())


def _start_date(raw: RawTable, lines: dict[str, int], errors: _Errors) -> datetime | None:
    """``mesh.start_date`` in UTC; a date without offset is local to ``mesh.timezone``."""
    value = raw.properties.get("mesh.start_date")
    if not value:
        return None
    zone: tzinfo
    try:
        zone = ZoneInfo(raw.properties.get("mesh.timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC  # reported by the Table model's validator, with the line of mesh.timezone
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        errors.add(lines["mesh.start_date"], f"mesh.start_date '{value}' is not an ISO date",
                   "write e.g. '2026-01-01' or '2026-01-01T00:00'")
        return None
    return (start.replace(tzinfo=zone) if start.tzinfo is None else start).astimezone(UTC)


def table_from_ddl(raw: RawTable, text: str, display: str, stem: str, team: str) -> tuple[Table | None, list[MeshError]]:
    """Every rule a single DDL file must follow; the table, or every error found in it."""
    errors = _Errors(display)
    _check_name(raw, stem, errors)
    columns = _check_columns(raw, text, errors)
    lines = {k: _line_at(text, f"'{k}'", raw.line) for k in raw.properties}
    _check_properties(raw, text, lines, errors)
    start_date = _start_date(raw, lines, errors)
    if errors:
        return None, list(errors)
    props = raw.properties
    dag_id, _, task_id = props["mesh.producer"].rpartition(".")
    try:
        table = Table(name=raw.name, team=team, file=display, line=raw.line, comment=raw.comment or "",
                      columns=tuple(columns), partitioned_by=tuple(raw.partitioned_by), producer_dag=dag_id,
                      producer_task=task_id, schedule=props["mesh.schedule"],
                      timezone=props.get("mesh.timezone") or "UTC",
                      timetable=props.get("mesh.timetable") or "trigger", access=props["mesh.access"],
                      start_date=start_date, inputs=_inputs(raw), version=props.get("mesh.version") or 1,
                      lines=lines)
    except ValidationError as e:
        return None, [MeshError(file=display, line=lines.get(f"mesh.{x['loc'][0]}", raw.line),
                                message=f"mesh.{x['loc'][0]}: {x['msg']}", fix="correct the property")
                      for x in e.errors()]
    return table, []


def parse_ddl_text(text: str, display: str, stem: str, team: str) -> tuple[Table | None, list[MeshError]]:
    """Read and check one DDL file's text: its table, or every error found in it."""
    raw, errors = read_ddl(text, display)
    if raw is None:
        return None, errors
    return table_from_ddl(raw, text, display, stem, team)
