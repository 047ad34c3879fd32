"""Cross-DAG backfills inside Airflow: requests, dry runs, and jobs (one native Airflow backfill per DAG),
materialized in the background and steered as a whole; their tables are migrated by MeshDBManager.

The pure planner (:mod:`airflow_mesh.core.planner`) decides *what*; this package turns
the plan into runs to create and task instances to clear, in the metadata DB.
"""
