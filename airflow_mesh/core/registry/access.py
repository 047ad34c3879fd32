"""Rule 3 of the mesh, who may read a table, in its own module.

The registry's ``mesh.inputs`` check (:mod:`airflow_mesh.core.registry.mesh`), the DAG rules
(:mod:`airflow_mesh.core.rules`) and ``TableSensor`` all ask it; keeping it apart from the DAG rules means
the registry never imports them (no import cycle between the registry and the rules).
"""

from __future__ import annotations

from airflow_mesh.core.registry.models import MeshError, Table, Team


def may_read(table: Table, team: str | None) -> bool:
    """A table is readable by its own team, and by everyone when it is public."""
    return table.access != "private" or table.team == team


def read_error(reader: str, team: str | None, table: Table, owner: Team | None, *, file: str, line: int,
               reads: str = "reads") -> MeshError | None:
    """The read rule as a located error (``None`` when ``reader`` of ``team`` may read ``table``).

    The one implementation behind the registry's ``mesh.inputs`` check, the cluster policy,
    ``airflow-mesh check`` and ``TableSensor`` (which ``reads="waits for"``).
    """
    if may_read(table, team):
        return None
    whom = owner.contact_line if owner else f"team {table.team}"
    return MeshError(file=file, line=line, rule="reads",
                     message=f"{reader} (team {team or 'none'}) {reads} {table.name}, a private table of team {table.team}",
                     fix=f"Ask {whom} to make it public (mesh.access in {table.file}), or read a public table instead")
