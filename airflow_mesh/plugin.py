"""The Airflow plugin: registers the mesh's web app on the API server and its nav entry.

Kept thin: everything it serves lives in :mod:`airflow_mesh.views`.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_mesh.views.app import create_mesh_app

URL_PREFIX = "/mesh"


class MeshPlugin(AirflowPlugin):
    name = "mesh"
    fastapi_apps = [{"app": create_mesh_app(), "url_prefix": URL_PREFIX, "name": "Data mesh"}]
    external_views = [
        {
            "name": "Data mesh",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "mesh",
        },
        {
            "name": "Mesh backfill",
            "href": f"{URL_PREFIX}/backfill",
            "destination": "nav",
            "category": "browse",
            "url_route": "mesh-backfill",
        },
    ]
