"""The fast DDL reader agrees with sqlglot wherever it answers, and hands everything else to sqlglot.

Both readers produce a RawTable and every contract check runs on it, so identical RawTables mean
identical Tables and identical errors. These tests prove the agreement on the example mesh, on the
synthetic mesh the benchmarks use, and on the broken-file cases of the registry tests.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_ROOT, ROOT
from sqlglot.dialects.spark import Spark

from airflow_mesh.core.registry import ddl_files
from airflow_mesh.core.registry.ddl_fast import (
    SIMPLE_TYPES,
    SQL_KEYWORDS,
    read_simple_ddl,
)
from airflow_mesh.core.registry.ddl_files import (
    parse_ddl_text,
    read_ddl_with_sqlglot,
    table_from_ddl,
)

sys.path.insert(0, str(ROOT / "bench"))
from synthetic_mesh import generate

BASE = (EXAMPLE_ROOT / "ddl" / "payments" / "transactions.sql").read_text()


def both(text: str):
    fast = read_simple_ddl(text)
    slow, errors = read_ddl_with_sqlglot(text, "x.sql")
    return fast, slow, errors


def example_files() -> list[Path]:
    return sorted((EXAMPLE_ROOT / "ddl").glob("*/*.sql"))


@pytest.mark.parametrize("path", example_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_mesh_same_contract_from_both_readers(path: Path) -> None:
    fast, slow, errors = both(path.read_text())
    assert fast is not None, "the example mesh is the common shape: the fast reader must take it"
    assert errors == [] and fast == slow


def test_synthetic_mesh_same_tables_from_both_readers(tmp_path: Path) -> None:
    root = generate(tmp_path / "mesh", 300)
    files = sorted((root / "ddl").glob("*/*.sql"))
    for path in files:
        text = path.read_text()
        fast, slow, _ = both(text)
        assert fast is not None and fast == slow, path
        assert (table_from_ddl(fast, text, "f.sql", path.stem, "t") ==
                table_from_ddl(slow, text, "f.sql", path.stem, "t"))


# Broken or unusual variants of a valid file: the fast reader either agrees with sqlglot or declines.
VARIANTS = {
    "no column comment": BASE.replace(" COMMENT 'ISO 4217 currency code'", ""),
    "no table comment": BASE.replace("COMMENT 'Every card transaction authorised, one row per transaction.'\n", ""),
    "missing producer": BASE.replace("  'mesh.producer' = 'payments_hourly.load_transactions',\n", ""),
    "bad access": BASE.replace("'public'", "'everyone'"),
    "bad schedule": BASE.replace("'@hourly'", "'every hour'"),
    "bad start date": BASE.replace("'2026-01-01'", "'first of jan'"),
    "unknown mesh property": BASE.replace("'mesh.access'", "'mesh.acess'"),
    "duplicate column": BASE.replace("  currency ", "  amount "),
    "wrong file name": BASE.replace("payments.transactions (", "payments.transaction ("),
    "no database": BASE.replace("payments.transactions (", "transactions ("),
    "unknown partition": BASE.replace("PARTITIONED BY (hour)", "PARTITIONED BY (day)"),
    "typed partition": BASE.replace(",\n  hour           STRING COMMENT 'Hour of the data, yyyy-MM-ddTHH (UTC), start of the covered period'",
                                    "").replace("PARTITIONED BY (hour)", "PARTITIONED BY (hour STRING COMMENT 'Hour')"),
    "lower case keywords": BASE.replace("CREATE TABLE", "create table").replace("COMMENT", "comment"),
    "bad input name": BASE.replace("'mesh.start_date' = '2026-01-01'",
                                   "'mesh.start_date' = '2026-01-01', 'mesh.inputs' = 'nodot, a.b'"),
    "decimal with precision only": BASE.replace("DECIMAL(18,2)", "decimal( 10 )"),
    "comment inside": BASE.replace("  merchant_id", "  -- the merchant\n  merchant_id"),
    "no semicolon": BASE.rstrip().rstrip(";"),
    "unbalanced quote": BASE.replace("'Merchant that received the payment'", "'Merchant's account'"),
    "escaped quote": BASE.replace("'Merchant that received the payment'", "'Merchant\\'s account'"),
    "doubled quote": BASE.replace("'Merchant that received the payment'", "'Merchant''s account'"),
    "block comment": "/* x */\n" + BASE,
    "keyword column": BASE.replace("  currency ", "  date "),
    "complex type": BASE.replace("DECIMAL(18,2)", "ARRAY<STRING>"),
    "not null": BASE.replace("STRING COMMENT 'ISO", "STRING NOT NULL COMMENT 'ISO"),
    "two statements": BASE + "\nSELECT 1;\n",
    "select only": "SELECT 1",
    "no column list": "CREATE TABLE payments.transactions AS SELECT 1",
    "if not exists": BASE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"),
    "location": BASE.replace("USING parquet", "USING parquet\nLOCATION 's3://b/t'"),
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_broken_and_unusual_files_same_errors_from_both_readers(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = VARIANTS[name]
    fast, slow, _ = both(text)
    assert fast is None or fast == slow
    # End to end: the full parse with the fast path equals the full parse with sqlglot only.
    with_fast = parse_ddl_text(text, "ddl/payments/transactions.sql", "transactions", "payments")
    monkeypatch.setattr(ddl_files, "read_simple_ddl", lambda text: None)
    sqlglot_only = parse_ddl_text(text, "ddl/payments/transactions.sql", "transactions", "payments")
    assert with_fast == sqlglot_only


@pytest.mark.parametrize("name", ["no column comment", "bad access", "typed partition", "lower case keywords",
                                  "comment inside", "no semicolon", "decimal with precision only", "bad input name"])
def test_fast_reader_takes_the_common_broken_shapes(name: str) -> None:
    """The agreement above is not vacuous: these variants are read by the fast reader."""
    assert read_simple_ddl(VARIANTS[name]) is not None


@pytest.mark.parametrize("name", ["escaped quote", "doubled quote", "block comment", "keyword column", "complex type",
                                  "not null", "two statements", "unbalanced quote", "if not exists", "location"])
def test_fast_reader_declines_what_it_does_not_know(name: str) -> None:
    assert read_simple_ddl(VARIANTS[name]) is None


@pytest.mark.parametrize("spelling", sorted(SIMPLE_TYPES))
def test_simple_types_render_as_sqlglot_renders_them(spelling: str) -> None:
    _, slow, _ = both(f"CREATE TABLE a.b (x {spelling} COMMENT 'c')")
    assert slow.columns[0].type == SIMPLE_TYPES[spelling]


def test_keyword_list_covers_sqlglots_spark_keywords() -> None:
    words = {k for k in Spark.Tokenizer.KEYWORDS if re.fullmatch(r"[A-Z_][A-Z0-9_]*", k)}
    assert words - SQL_KEYWORDS == set()
