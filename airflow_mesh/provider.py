"""Provider metadata, so Airflow lists the ``yarn_rm`` connection type (entry point ``apache_airflow_provider``)."""

from __future__ import annotations


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-mesh",
        "name": "airflow-mesh",
        "description": "Governed data mesh on Apache Airflow.",
        "versions": ["0.1.0"],
        "connection-types": [
            {"connection-type": "yarn_rm", "hook-class-name": "airflow_mesh.hooks.yarn_rm.YarnResourceManagerHook"},
        ],
    }
