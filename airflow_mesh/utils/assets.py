"""Tables as Airflow Assets, so lineage shows in Airflow's asset graph and in OpenLineage."""

from __future__ import annotations

from airflow.sdk import Asset

from airflow_mesh.core.registry.models import MESH_URI_PREFIX, Table

__all__ = ["MESH_URI_PREFIX", "table_asset"]


def table_asset(table: Table) -> Asset:
    """The Asset of a table: named by the table, URI ``mesh://<db>/<table>``."""
    return Asset(name=table.name, uri=table.asset_uri, group="mesh-table",
                 extra={"team": table.team, "access": table.access, "schedule": table.schedule})
