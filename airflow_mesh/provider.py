"""Provider metadata (entry point ``apache_airflow_provider``): what Airflow learns about the package
without importing its code.

It is the single source of the ``[mesh]`` settings (description, type, default, example), merged by
Airflow into its own configuration, so ``airflow config list`` shows them and ``conf.get("mesh", ...)``
falls back to these defaults; :mod:`airflow_mesh.settings` reads them from here too. It also names the
connection type, notifier and triggers the package brings, as Airflow's own providers do.

The plugin is deliberately *not* listed under ``plugins``: Airflow 3.3 loads provider-declared plugins
only with ``[core] lazy_discover_providers = False`` (``plugins_manager._get_plugins``), so it is
registered through the ``airflow.plugins`` entry point instead, which always loads; declaring it in
both places would register it twice (an import error) when providers are discovered eagerly.
"""

from __future__ import annotations

from typing import Any

from airflow_mesh import __version__

MESH_OPTIONS: dict[str, dict[str, Any]] = {
    "root": {
        "description": "Folder of the mesh registry (`teams/*.yaml` and `ddl/TEAM/*.sql`), usually a checkout of "
                       "the teams' registry repository. Empty (the default): no mesh is configured, and the "
                       "package stays out of the way (the cluster policy logs one warning and changes nothing, "
                       "the mesh pages say how to configure a registry, registry commands exit 2).",
        "version_added": "0.1.0",
        "type": "string",
        "example": "/srv/mesh-registry",
        "default": "",
    },
    "enforce": {
        "description": "What the cluster policy does with a DAG that breaks an ownership rule: strict rejects it "
                       "(import error naming file and line), warn logs the violations and lets it import (the way "
                       "to adopt the mesh in an Airflow with existing DAGs), off skips the rules (team defaults "
                       "and owner alerts still apply). Only has an effect once root is set.",
        "version_added": "0.1.0",
        "type": "string",
        "example": "warn",
        "default": "strict",
    },
    "recheck_seconds": {
        "description": "How long a process trusts the registry it loaded before reading the files again for changes "
                       "(a hash of their content; an unchanged registry is not parsed again).",
        "version_added": "0.1.0",
        "type": "float",
        "example": "30",
        "default": "5",
    },
    "cache_dir": {
        "description": "Folder for the parsed-registry cache shared by the processes of one machine "
                       "(safe to delete). Empty: `$AIRFLOW_HOME/mesh-cache`.",
        "version_added": "0.1.0",
        "type": "string",
        "example": "/var/cache/airflow-mesh",
        "default": "",
    },
    "catalog_dir": {
        "description": "Folder of the embedded Spark metastore and warehouse `airflow-mesh schema apply` and "
                       "`validate --spark` use when the Spark conf names no metastore of its own "
                       "(`hive.metastore.uris`). Empty: `$AIRFLOW_HOME/mesh-catalog`.",
        "version_added": "0.2.0",
        "type": "string",
        "example": "/var/lib/airflow-mesh/catalog",
        "default": "",
    },
    "backfill_max_runs": {
        "description": "Largest number of DAG runs one mesh backfill may create or clear; a bigger plan is "
                       "refused with the count, before anything changes.",
        "version_added": "0.1.0",
        "type": "integer",
        "example": "2000",
        "default": "50000",
    },
    "backfill_max_active_runs": {
        "description": "How many runs of one DAG a mesh backfill lets run at the same time (Airflow's "
                       "Backfill.max_active_runs); scheduled runs keep their own slots.",
        "version_added": "0.1.0",
        "type": "integer",
        "example": "4",
        "default": "10",
    },
    "backfill_max_schedule_ticks": {
        "description": "Largest number of schedule ticks a backfill request may ask the planner to walk on schedules "
                       "without an arithmetic grid (range x schedule density); a bigger request is refused with a "
                       "422 naming this setting, so no request can make the API server burn CPU.",
        "version_added": "0.2.0",
        "type": "integer",
        "example": "100000",
        "default": "50000",
    },
    "backfill_chunk_runs": {
        "description": "How many runs one short materialization transaction creates or clears; a job is applied "
                       "chunk by chunk, so no statement holds locks Airflow's task starts need for long.",
        "version_added": "0.2.0",
        "type": "integer",
        "example": "200",
        "default": "200",
    },
    "backfill_lease_seconds": {
        "description": "How long a materializer's claim on a job lasts without renewal; a job whose lease expired "
                       "mid-way is shown interrupted and can be resumed by any replica.",
        "version_added": "0.2.0",
        "type": "float",
        "example": "30",
        "default": "30",
    },
    "backfill_materializer": {
        "description": "Whether this API server runs a background materializer thread that claims accepted jobs "
                       "through the DB (safe with several API servers). Off: run `airflow-mesh backfill "
                       "materialize` somewhere instead.",
        "version_added": "0.2.0",
        "type": "boolean",
        "example": "False",
        "default": "True",
    },
    "backfill_poll_seconds": {
        "description": "How often the background materializer looks for accepted or resumed jobs.",
        "version_added": "0.2.0",
        "type": "float",
        "example": "2",
        "default": "2",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-mesh",
        "name": "Airflow Mesh",
        "description": "Governed data mesh on Apache Airflow: team ownership, cross-team table sensors, "
                       "Spark on YARN, backfills across DAGs and schedules.",
        "versions": [__version__],
        "connection-types": [
            {"connection-type": "yarn_rm", "hook-class-name": "airflow_mesh.hooks.yarn_rm.YarnResourceManagerHook"},
        ],
        "notifications": ["airflow_mesh.notifications.owner.MeshOwnerNotifier"],
        # The mesh's own tables (backfill jobs), created and upgraded by `airflow db migrate`.
        "db-managers": ["airflow_mesh.backfill.db_manager.MeshDBManager"],
        "triggers": [{
            "integration-name": "Airflow Mesh",
            "python-modules": ["airflow_mesh.triggers.table_trigger", "airflow_mesh.triggers.yarn_trigger"],
        }],
        "config": {
            "mesh": {
                "description": "airflow-mesh: where the mesh registry lives and how the mesh is enforced.",
                "options": MESH_OPTIONS,
            },
        },
    }
