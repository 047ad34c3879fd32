"""Governance: the ownership rules, applied by the cluster policy, ``airflow-mesh check`` and role sync."""
