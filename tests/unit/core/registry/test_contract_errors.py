"""The contract checks the README promises, each planted alone in a copy of the example registry.

Every error must name the file and the line a person has to edit, and say what to do.
"""

from __future__ import annotations

from pathlib import Path

from airflow_mesh.core.registry import validate_root


def errors_of(root: Path) -> list[str]:
    mesh, errors = validate_root(root)
    assert mesh is None and errors, "the planted mistake was not reported"
    return [str(e) for e in errors]


def line_of(path: Path, needle: str) -> int:
    return next(no for no, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def test_a_file_must_be_named_after_its_table(mesh_copy: Path) -> None:
    refunds = mesh_copy / "ddl" / "payments" / "refunds.sql"
    refunds.rename(refunds.with_name("refund.sql"))
    assert any(e.startswith("ddl/payments/refund.sql:2: file refund.sql defines table 'payments.refunds'")
               and "Fix: name the file refunds.sql" in e for e in errors_of(mesh_copy))


def test_an_unbalanced_quote_is_located_on_its_line(mesh_copy: Path) -> None:
    refunds = mesh_copy / "ddl" / "payments" / "refunds.sql"
    refunds.write_text(refunds.read_text().replace("'Refunded transaction'", "'Shopper's refunded transaction'"))
    line = line_of(refunds, "Shopper's")
    assert f"ddl/payments/refunds.sql:{line}: unbalanced single quote. Fix: write an apostrophe inside a string " \
           "as \\' or ''" in errors_of(mesh_copy)


def test_an_unknown_mesh_property_is_named_with_the_known_ones(mesh_copy: Path) -> None:
    refunds = mesh_copy / "ddl" / "payments" / "refunds.sql"
    refunds.write_text(refunds.read_text().replace("'mesh.access' = 'public'", "'mesh.acess' = 'public'"))
    line = line_of(refunds, "mesh.acess")
    errors = errors_of(mesh_copy)
    assert any(e.startswith(f"ddl/payments/refunds.sql:{line}: unknown mesh property 'mesh.acess'")
               and "mesh.access" in e.partition("Fix:")[2] for e in errors), errors


def test_a_column_declared_twice(mesh_copy: Path) -> None:
    refunds = mesh_copy / "ddl" / "payments" / "refunds.sql"
    text = refunds.read_text()
    refunds.write_text(text.replace("  hour ", "  amount DECIMAL(18,2) COMMENT 'Again',\n  hour ", 1))
    line = line_of(refunds, "COMMENT 'Again'")
    assert f"ddl/payments/refunds.sql:{line}: column 'amount' is declared twice. Fix: remove one declaration" \
        in errors_of(mesh_copy)


def test_one_dag_cannot_produce_tables_on_two_schedules(mesh_copy: Path) -> None:
    fx = mesh_copy / "ddl" / "payments" / "fx_rates.sql"  # produced by payments_daily
    refunds = mesh_copy / "ddl" / "payments" / "refunds.sql"  # hourly, moved into payments_daily
    refunds.write_text(refunds.read_text().replace("payments_hourly.load_refunds", "payments_daily.load_refunds"))
    errors = errors_of(mesh_copy)
    schedule_errors = [e for e in errors if "produced by the same DAG 'payments_daily'" in e]
    assert schedule_errors, errors
    assert all("Fix: tables written by one DAG share its schedule" in e for e in schedule_errors)
    located = {e.split(": ", 1)[0] for e in schedule_errors}
    assert located & {f"ddl/payments/refunds.sql:{line_of(refunds, 'mesh.schedule')}",
                      f"ddl/payments/fx_rates.sql:{line_of(fx, 'mesh.schedule')}"}


def test_a_team_file_must_carry_its_own_name(mesh_copy: Path) -> None:
    team = mesh_copy / "teams" / "risk.yaml"
    team.write_text(team.read_text().replace("name: risk", "name: fraud", 1))
    assert "teams/risk.yaml:1: team name 'fraud' differs from the file name 'risk'. " \
           "Fix: rename the file to fraud.yaml or set name: risk" in errors_of(mesh_copy)
