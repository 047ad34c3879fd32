"""Mesh operators: producers of tables (Python callables, Spark on YARN)."""

from airflow_mesh.operators.produce import NotProducerError, ProduceTableOperator
from airflow_mesh.operators.spark_yarn import SparkYarnOperator

__all__ = ["NotProducerError", "ProduceTableOperator", "SparkYarnOperator"]
