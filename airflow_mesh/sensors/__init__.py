"""Mesh sensors: wait for tables of other teams across differing schedules."""

from airflow_mesh.sensors.table_sensor import PrivateTableError, TableSensor

__all__ = ["PrivateTableError", "TableSensor"]
