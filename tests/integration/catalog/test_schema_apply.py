"""``airflow-mesh schema apply`` and ``validate --spark`` on a real Spark catalog: local-mode Spark with its
embedded Derby metastore in a temporary folder, one session for the module (a JVM start is the cost).

Runs in the SQLite run only: it uses no Airflow metadata DB.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLE_ROOT

from airflow_mesh.catalog.apply import apply_schema, parse_errors
from airflow_mesh.catalog.spark_catalog import SparkCatalog
from airflow_mesh.core.registry import load_mesh

pytestmark = pytest.mark.skipif(os.environ.get("AIRFLOW_MESH_TEST_DB") == "postgresql",
                                reason="uses no metadata DB: runs in the SQLite run only")
TRANSACTIONS = "ddl/payments/transactions.sql"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    spark = SparkCatalog(tmp_path_factory.mktemp("catalog"))
    yield spark
    spark.close()


@pytest.fixture(scope="module")
def applied(catalog, tmp_path_factory) -> Path:
    """The example registry applied once: a copy the tests below change."""
    root = tmp_path_factory.mktemp("registry")
    for part in ("teams", "ddl"):
        shutil.copytree(EXAMPLE_ROOT / part, root / part)
    report = apply_schema(load_mesh(root, recheck_seconds=0), catalog, dry_run=False)
    assert report.applied and report.errors == []
    assert [p.action for p in report.tables] == ["create"] * 16
    return root


def edit(root: Path, rel: str, old: str, new: str) -> None:
    text = (root / rel).read_text()
    assert old in text
    (root / rel).write_text(text.replace(old, new))


def test_every_example_table_exists_in_the_catalog_as_its_ddl_says(catalog, applied) -> None:
    mesh = load_mesh(applied, recheck_seconds=0)
    for t in mesh.tables.values():
        now = catalog.table(t.name)
        assert now is not None, t.name
        assert [c.name for c in now.columns if not c.partition] == [c.name for c in t.columns if not c.partition]
        assert [c.name for c in now.columns if c.partition] == list(t.partitioned_by)
        assert now.comment == t.comment
    amount = next(c for c in catalog.table("payments.transactions").columns if c.name == "amount")
    assert amount.type == "decimal(18,2)" and amount.comment == "Amount in the transaction currency"
    again = apply_schema(mesh, catalog, dry_run=False)
    assert {p.action for p in again.tables} == {"unchanged"}


def test_a_compatible_change_is_applied_and_a_breaking_one_refuses_the_whole_run(catalog, applied) -> None:
    edit(applied, TRANSACTIONS, "  hour           STRING", "  fee            DECIMAL(18,2) COMMENT 'Fee',\n  hour           STRING")
    edit(applied, "ddl/risk/merchant_risk.sql", "COMMENT '", "COMMENT 'Changed: ")
    edit(applied, "ddl/risk/fraud_scores_daily.sql", "  fraud_score   DOUBLE", "  fraud_score_2 DOUBLE")  # a drop and an add
    refused = apply_schema(load_mesh(applied, recheck_seconds=0), catalog, dry_run=False)
    assert not refused.applied
    [error] = refused.errors
    assert error.file == "ddl/risk/fraud_scores_daily.sql" and "column fraud_score is in the catalog but not in the DDL" in error.message
    assert "fee" not in [c.name for c in catalog.table("payments.transactions").columns]  # nothing half-applied

    edit(applied, "ddl/risk/fraud_scores_daily.sql", "  fraud_score_2 DOUBLE", "  fraud_score   DOUBLE")
    done = apply_schema(load_mesh(applied, recheck_seconds=0), catalog, dry_run=False)
    assert done.errors == [] and done.applied
    plans = {p.table: p for p in done.tables}
    assert [s.what for s in plans["payments.transactions"].steps] == ["add column fee DECIMAL(18, 2)"]
    fee = next(c for c in catalog.table("payments.transactions").columns if c.name == "fee")
    assert (fee.type, fee.comment, fee.partition) == ("decimal(18,2)", "Fee", False)
    assert plans["risk.merchant_risk"].action == "change"


def test_a_retyped_column_is_refused_with_its_line(catalog, applied) -> None:
    edit(applied, TRANSACTIONS, "  amount         DECIMAL(18,2)", "  amount         DOUBLE       ")
    report = apply_schema(load_mesh(applied, recheck_seconds=0), catalog, dry_run=True)
    [error] = report.errors
    assert (error.file, error.line) == (TRANSACTIONS, 5)
    assert "column amount is decimal(18,2) in the catalog, the DDL says DOUBLE" in error.message and error.fix
    edit(applied, TRANSACTIONS, "  amount         DOUBLE       ", "  amount         DECIMAL(18,2)")


def test_spark_judges_every_ddl_file(catalog, tmp_path) -> None:
    assert parse_errors(load_mesh(EXAMPLE_ROOT), catalog) == []  # the example registry: both readers agree
    error = catalog.parse_error("-- a comment line\nCREATE TABLE db.t (\n  a INT COMMENT 'x',\n  b STRNG COMMENT 'y'\n)\n"
                                "USING parquet;\n", "ddl/t/t.sql")
    assert error is not None and error.file == "ddl/t/t.sql" and error.line == 4
    assert 'Unsupported data type "STRNG"' in error.message
