"""A Spark session on the catalog the tables live in, for ``airflow-mesh schema`` and ``validate --spark``.

The metastore is whatever the Spark conf says (``--conf`` / ``spark-defaults.conf``: ``hive.metastore.uris``
for a shared one); without it, Spark's embedded Derby metastore in a local folder (``[mesh] catalog_dir``),
with Hive support as pyspark ships it. Spark is the judge: it parses each DDL file and creates the table
from the file's own ``CREATE TABLE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_mesh.core.registry.models import MeshError, Table
from airflow_mesh.core.registry.schema_changes import CatalogColumn

_SQL_LINE = re.compile(r"line (\d+), pos(?:ition)? (\d+)")


@dataclass(frozen=True)
class CatalogTable:
    columns: list[CatalogColumn]
    comment: str


class SparkCatalog:
    """One local-mode Spark session (started on first use, stopped by :meth:`close`)."""

    def __init__(self, catalog_dir: Path, conf: dict[str, str] | None = None) -> None:
        self.catalog_dir = catalog_dir
        self.conf = dict(conf or {})
        self._spark: Any = None

    @property
    def spark(self) -> Any:
        if self._spark is None:
            from pyspark.sql import SparkSession

            self.catalog_dir.mkdir(parents=True, exist_ok=True)
            builder = (SparkSession.builder.master("local[1]").appName("airflow-mesh-schema")
                       .config("spark.ui.enabled", "false")
                       .config("spark.sql.warehouse.dir", str(self.catalog_dir / "warehouse"))
                       .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                               f"jdbc:derby:;databaseName={self.catalog_dir / 'metastore_db'};create=true")
                       .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={self.catalog_dir}"))
            for key, value in self.conf.items():
                builder = builder.config(key, value)
            self._spark = builder.enableHiveSupport().getOrCreate()
            self._spark.sparkContext.setLogLevel("ERROR")
        return self._spark

    def close(self) -> None:
        if self._spark is not None:
            self._spark.stop()
            self._spark = None

    def parse_error(self, text: str, file: str, first_line: int = 1) -> MeshError | None:
        """Spark's own parser on a DDL file's text: ``None`` when Spark accepts it, else where it stopped."""
        from pyspark.errors import ParseException

        try:
            self.spark._jsparkSession.sessionState().sqlParser().parsePlan(statement(text))
        except ParseException as err:
            message = " ".join(str(err).split("== SQL")[0].split())
            at = _SQL_LINE.search(str(err))
            line = first_line + int(at.group(1)) - 1 if at else first_line
            return MeshError(file=file, line=line, message=f"Spark does not accept this DDL: {message}",
                             fix="write it as Spark SQL's CREATE TABLE accepts it (the table is created from it)")
        return None

    def spark_type(self, ddl_type: str) -> str:
        """A DDL type as Spark spells it in its catalog (``DECIMAL(18, 2)`` -> ``decimal(18,2)``)."""
        jvm = self.spark._jvm
        return jvm.org.apache.spark.sql.types.DataType.fromDDL(ddl_type).simpleString()

    def table(self, name: str) -> CatalogTable | None:
        """The catalog's columns and comment of ``name``, or ``None`` when it has no such table."""
        if not self.spark.catalog.tableExists(name):
            return None
        columns = [CatalogColumn(c.name, c.dataType, c.description or "", bool(c.isPartition))
                   for c in self.spark.catalog.listColumns(name)]
        return CatalogTable(columns, self.spark.catalog.getTable(name).description or "")

    def create(self, table: Table, text: str) -> None:
        """The table, from its own DDL (its database created first when missing)."""
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {table.name.split('.')[0]}")
        self.spark.sql(statement(text))

    def run(self, sql: str) -> None:
        self.spark.sql(sql)


def statement(text: str) -> str:
    """The one statement of a DDL file, without the trailing ``;`` Spark's parser refuses."""
    return text.strip().rstrip(";").rstrip()
