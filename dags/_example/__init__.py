"""The example mesh's own plumbing, beside its DAGs as a team's shared helpers would be.

Nothing here is part of airflow-mesh: a team's DAGs import their own writers and settings the same way
(Airflow puts the DAG bundle's folder on ``sys.path``). ``.airflowignore`` keeps the parser out of it.
"""
