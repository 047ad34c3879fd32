"""Which team a DAG belongs to: declared once, derived the same way everywhere.

A DAG's team is, in order:
1. the team of the tables it produces (``mesh.producer`` in their DDL), else
2. the team folder it lives in (``<dags folder>/<team>/...``), else
3. a tag ``team:<name>``.
If these disagree, the DAG is in conflict, which the checks report.
Pure: used by the sensors, the cluster policy and ``airflow-mesh check``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_mesh.core.registry.mesh import Mesh

TEAM_TAG_PREFIX = "team:"


def declared_teams(mesh: Mesh, dag_id: str, fileloc: str | None = None,
                   tags: Iterable[str] = ()) -> dict[str, str]:
    """Every way the DAG names its team: ``{"tables"|"folder"|"tag": team}``."""
    found: dict[str, str] = {}
    by_tables = mesh.team_of_producer_dag(dag_id)
    if by_tables:
        found["tables"] = by_tables
    if fileloc:
        for part in Path(fileloc).parts[-4:-1]:
            if part in mesh.teams:
                found["folder"] = part
    for tag in tags:
        if tag.startswith(TEAM_TAG_PREFIX):
            found["tag"] = tag[len(TEAM_TAG_PREFIX):]
    return found


def owning_team(mesh: Mesh, dag_id: str, fileloc: str | None = None, tags: Iterable[str] = ()) -> str | None:
    """The DAG's team by the precedence above (``None`` when nothing names one).

    Unlike :meth:`Mesh.team_of_producer_dag` (tables only), this also asks the folder and the tag;
    unlike :func:`airflow_mesh.core.rules.check_dag` it does not require them to agree."""
    found = declared_teams(mesh, dag_id, fileloc, tags)
    for source in ("tables", "folder", "tag"):
        if source in found:
            return found[source]
    return None
