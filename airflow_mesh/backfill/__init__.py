"""Cross-DAG backfills inside Airflow: requests, dry runs, atomic execution, records and progress.

The pure planner (:mod:`airflow_mesh.core.planner`) decides *what*; this package turns
the plan into task instances to clear and runs to create, in the metadata DB.
"""
