"""DDL contracts: column names are identifiers, and an invalid file hides no other file's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mesh.core.registry import validate_root
from airflow_mesh.core.registry.ddl_files import parse_ddl_text

HEAD = "CREATE TABLE risk.t (\n"
TAIL = (")\nCOMMENT 'T'\nTBLPROPERTIES ('mesh.producer' = 'd.t', 'mesh.schedule' = '@daily', "
        "'mesh.access' = 'public');\n")


@pytest.mark.parametrize("name", ["`<img src=x onerror=alert(1)>`", "`a b`", "`1234`", "`caf\u00e9`"])
def test_a_column_name_that_is_not_a_plain_identifier_is_refused(name: str) -> None:
    text = f"{HEAD}  ok STRING COMMENT 'fine',\n  {name} STRING COMMENT 'x'\n{TAIL}"
    table, errors = parse_ddl_text(text, "ddl/risk/t.sql", "t", "risk")
    assert table is None
    assert [(e.line, e.message) for e in errors] == [
        (3, f"column name {name.strip('`')!r} is not a plain Spark identifier")]


@pytest.mark.parametrize("name", ["amount", "_loaded_at", "Amount2", "2fa_method"])
def test_plain_identifiers_are_accepted(name: str) -> None:
    table, errors = parse_ddl_text(f"{HEAD}  {name} STRING COMMENT 'x'\n{TAIL}", "ddl/risk/t.sql", "t", "risk")
    assert errors == [] and table.columns[0].name == name


def test_an_input_typo_is_reported_while_another_file_is_broken(mesh_copy: Path) -> None:
    ddl = mesh_copy / "ddl"
    # risk.merchant_risk is broken (its own error) ...
    mr = ddl / "risk" / "merchant_risk.sql"
    mr.write_text(mr.read_text().replace("'public'", "'everyone'"))
    # ... and an unrelated table reads 'payments.merchant_risk', a typo for risk.merchant_risk that
    # shares its short name: it must be reported now, not after merchant_risk.sql is fixed.
    kpi = ddl / "business-intelligence" / "kpi_weekly.sql"
    kpi.write_text(kpi.read_text().replace("'mesh.inputs' = '", "'mesh.inputs' = 'payments.merchant_risk, "))
    _, errors = validate_root(mesh_copy)
    text = [str(e) for e in errors]
    assert any("merchant_risk.sql" in e and "mesh.access 'everyone'" in e for e in text), text
    assert any(e.startswith("ddl/business-intelligence/kpi_weekly.sql:")
               and "input table 'payments.merchant_risk' is not defined" in e for e in text), text


def test_an_input_naming_the_broken_table_itself_is_not_reported_twice(mesh_copy: Path) -> None:
    ddl = mesh_copy / "ddl"
    txn = ddl / "payments" / "transactions.sql"
    txn.write_text(txn.read_text().replace(" COMMENT 'ISO 4217 currency code'", ""))
    _, errors = validate_root(mesh_copy)
    assert [e.file for e in errors] == ["ddl/payments/transactions.sql"]
