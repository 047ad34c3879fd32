"""airflow-mesh: a governed data mesh on Apache Airflow.

The version lives here and only here (``pyproject.toml`` reads it, the provider info reports it).
This module imports nothing: the pure core (``airflow_mesh.core``) must stay importable without Airflow.
"""

__version__ = "0.2.0.dev0"
