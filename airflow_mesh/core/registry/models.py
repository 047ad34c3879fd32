"""The mesh's data model: teams, tables, columns, and the errors found while loading them.

Pure pydantic v2, no Airflow import: DAG files import this on every parse.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_mesh.core.intervals import validate_schedule

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MESH_URI_PREFIX = "mesh://"  # tables as Airflow Assets: mesh://<db>/<table>


def table_uri(name: str) -> str:
    """The URI of the Airflow ``Asset`` that stands for table ``db.table``: ``mesh://db/table``."""
    db, _, table = name.partition(".")
    return f"{MESH_URI_PREFIX}{db}/{table}"


def table_of_uri(uri: str | None) -> str | None:
    """The table ``db.table`` an asset URI stands for, or ``None`` for an asset that is not a mesh table."""
    if not uri or not uri.startswith(MESH_URI_PREFIX):
        return None
    return uri[len(MESH_URI_PREFIX):].replace("/", ".", 1)
NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a team file must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(Strict):
    name: str
    email: str
    role: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class Alerts(Strict):
    """Where failures of the team's tasks are sent."""

    conn_id: str | None = Field(None, description="Airflow connection of a Slack or HTTP webhook")
    channel: str | None = None
    email: list[str] = Field(default_factory=list)


class Yarn(Strict):
    queue: str
    proxy_user: str | None = None


class TaskDefaults(Strict):
    """Defaults the cluster policy applies to every task of the team unless the task sets them."""

    owner: str | None = None
    pool: str | None = None
    queue: str | None = None
    retries: int | None = Field(None, ge=0)
    retry_delay_minutes: float | None = Field(None, ge=0)


class Team(Strict):
    name: str
    description: str = ""
    contacts: list[Contact] = Field(min_length=1)
    alerts: Alerts = Field(default_factory=Alerts)
    yarn: Yarn
    spark_conf: dict[str, str] = Field(default_factory=dict)
    defaults: TaskDefaults = Field(default_factory=TaskDefaults)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("team names are lower case letters, digits, '_' and '-', starting with a letter")
        return value

    @property
    def contact_line(self) -> str:
        """How messages name whom to ask: the first contact."""
        c = self.contacts[0]
        return f"{c.name} <{c.email}>"


class Column(Strict):
    name: str
    type: str
    comment: str
    line: int
    partition: bool = False


class Table(Strict):
    """A table's contract, taken from its ``CREATE TABLE`` in ``ddl/<team>/``."""

    name: str  # db.table
    team: str
    file: str
    line: int
    comment: str
    columns: tuple[Column, ...]
    partitioned_by: tuple[str, ...]
    producer_dag: str
    producer_task: str
    schedule: str
    timezone: str = "UTC"  # IANA name the schedule is evaluated in (mesh.timezone)
    timetable: Literal["trigger", "data_interval"] = "trigger"  # which instant is the logical date (mesh.timetable)
    access: Literal["public", "private"]
    start_date: datetime | None = None
    inputs: tuple[str, ...] = ()
    version: int = Field(1, ge=1, strict=False)  # mesh.version: raised with a breaking change
    lines: dict[str, int] = Field(default_factory=dict)  # property key -> line, for later error messages

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        problem = _timezone_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        problem = _schedule_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def producer(self) -> str:
        return f"{self.producer_dag}.{self.producer_task}"

    @property
    def asset_uri(self) -> str:
        """The URI of the Airflow ``Asset`` that stands for this table."""
        return table_uri(self.name)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


@lru_cache(maxsize=1024)
def _timezone_problem(value: str) -> str | None:
    """Memoized: thousands of tables share a handful of zones, and every cache read re-validates them."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"'{value}' is not an IANA time zone name (e.g. 'UTC', 'Europe/Amsterdam')"
    return None


@lru_cache(maxsize=1024)
def _schedule_problem(value: str) -> str | None:
    """Memoized like :func:`_timezone_problem`: a schedule's validity depends on its text only."""
    return validate_schedule(value)


class MeshError(BaseModel):
    """One located problem, for the team member who has to fix it: a registry error, a broken
    ownership rule (``rule`` says which) or a DAG file that fails to import. The one message type
    of the registry, the cluster policy and ``airflow-mesh check``."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    message: str
    fix: str = ""
    rule: str = ""  # ownership rule broken ("team", "writes", "reads") or "import"; empty for registry errors

    @property
    def explained(self) -> str:
        """The message and its fix, without the location (for exceptions raised in the DAG file itself)."""
        return f"{self.message}. Fix: {self.fix}" if self.fix else self.message

    def __str__(self) -> str:
        rule = f"[{self.rule}] " if self.rule else ""
        return f"{self.file}:{self.line}: {rule}{self.explained}"


class MeshValidationError(ValueError):
    """All the errors of a registry, raised together so they are fixed in one round."""

    def __init__(self, errors: list[MeshError]):
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in the mesh registry:\n" + "\n".join(f"  {e}" for e in errors))
