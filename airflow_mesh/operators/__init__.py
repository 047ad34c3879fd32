"""Mesh operators: producers of tables."""

from airflow_mesh.operators.produce import NotProducerError, ProduceTableOperator

__all__ = ["NotProducerError", "ProduceTableOperator"]
