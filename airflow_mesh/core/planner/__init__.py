"""Cross-DAG backfill planning (pure core; no Airflow import)."""

from airflow_mesh.core.planner.plan import DagPlan, Plan, plan_backfill

__all__ = ["DagPlan", "Plan", "plan_backfill"]
