"""Contract changes between two versions of the example registry, each classified and routed to the teams
it reaches (read from the base registry)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mesh.core.registry import load_mesh
from airflow_mesh.core.registry.contract_diff import diff_registries
from airflow_mesh.core.registry.models import MeshValidationError

TRANSACTIONS = Path("ddl/payments/transactions.sql")


def edit(root: Path, rel: Path | str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new))


def changes(base: Path, head: Path) -> list[tuple[str, str, str]]:
    return [(c.kind, c.table, c.what) for c in diff_registries(load_mesh(base), load_mesh(head))]


@pytest.fixture
def base(mesh_copy: Path) -> Path:
    return mesh_copy


@pytest.fixture
def head(tmp_path: Path, base: Path) -> Path:
    import shutil

    shutil.copytree(base, tmp_path / "head")
    return tmp_path / "head"


def test_no_change_is_no_change(base, head) -> None:
    assert changes(base, head) == []


def test_a_dropped_column_is_breaking_and_names_every_team_downstream(base, head) -> None:
    edit(head, TRANSACTIONS, "  amount         DECIMAL(18,2) COMMENT 'Amount in the transaction currency',\n", "")
    [change] = diff_registries(load_mesh(base), load_mesh(head))
    assert (change.kind, change.table, change.what, change.refused) == (
        "breaking", "payments.transactions", "column amount dropped (or renamed)", True)
    assert change.file == "ddl/payments/transactions.sql"
    reached = {r.team: r for r in change.reached}
    assert set(reached) == {"risk", "business-intelligence", "payments"}
    assert "risk_daily" in reached["risk"].dags and "risk.fraud_scores_daily" in reached["risk"].tables
    assert reached["risk"].contacts[0].startswith("Sofia Rossi <") and reached["risk"].channel == "#risk-alerts"
    assert "bi.revenue_monthly" in reached["business-intelligence"].tables  # transitively downstream


def test_raising_mesh_version_acknowledges_a_breaking_change(base, head) -> None:
    edit(head, TRANSACTIONS, "  amount         DECIMAL(18,2)", "  amount         DECIMAL(20,4)")
    edit(head, TRANSACTIONS, "  'mesh.access' = 'public',", "  'mesh.access' = 'public',\n  'mesh.version' = '2',")
    [change] = diff_registries(load_mesh(base), load_mesh(head))
    assert change.what == "column amount retyped DECIMAL(18, 2) -> DECIMAL(20, 4)"
    assert change.kind == "breaking" and change.acknowledged and not change.refused


MERCHANT_RISK = "ddl/risk/merchant_risk.sql"  # public, read by no other table, alone in its DAG


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    (MERCHANT_RISK, "  'mesh.access' = 'public',", "  'mesh.access' = 'private',",
     ("breaking", "mesh.access public -> private")),
    (MERCHANT_RISK, "  'mesh.schedule' = '30 2 * * *',", "  'mesh.schedule' = '0 3 * * *',",
     ("breaking", "mesh.schedule 30 2 * * * -> 0 3 * * *")),
    (TRANSACTIONS, "  'mesh.start_date' = '2026-01-01'", "  'mesh.start_date' = '2026-03-01'",
     ("breaking", "mesh.start_date 2026-01-01T00:00:00+00:00 -> 2026-03-01T00:00:00+00:00")),
    (TRANSACTIONS, "  'mesh.start_date' = '2026-01-01'", "  'mesh.start_date' = '2025-06-01'",
     ("compatible", "mesh.start_date 2026-01-01T00:00:00+00:00 -> 2025-06-01T00:00:00+00:00")),
    (TRANSACTIONS, "  'mesh.start_date' = '2026-01-01'", "  'mesh.start_date' = '2026-01-01',\n  'mesh.timezone' = 'Europe/Amsterdam'",
     ("breaking", "mesh.timezone UTC -> Europe/Amsterdam")),
    (TRANSACTIONS, "  hour           STRING COMMENT 'Hour of the data", "  currency_name  STRING COMMENT 'Name',\n"
                                                      "  hour           STRING COMMENT 'Hour of the data",
     ("compatible", "column currency_name added (STRING)")),
    (TRANSACTIONS, "COMMENT 'Every card transaction authorised, one row per transaction.'", "COMMENT 'Every card transaction.'",
     ("compatible", "table comment changed")),
])
def test_each_contract_change_is_classified(base, head, file, old, new, expected) -> None:
    edit(head, file, old, new)
    assert expected in [(kind, what) for kind, _, what in changes(base, head)]


def test_private_made_public_is_compatible(base, head) -> None:
    edit(head, "ddl/payments/card_tokens.sql", "'mesh.access' = 'private'", "'mesh.access' = 'public'")
    assert ("compatible", "payments.card_tokens", "mesh.access private -> public") in changes(base, head)


def test_a_removed_table_is_breaking_and_an_added_one_compatible(base, head) -> None:
    (head / "ddl/risk/chargeback_ratio_weekly.sql").unlink()
    (head / "ddl/risk/extra.sql").write_text((base / "ddl/risk/merchant_risk.sql").read_text()
                                              .replace("risk.merchant_risk", "risk.extra")
                                              .replace("risk_merchant.build_merchant_risk", "risk_extra.build"))
    got = changes(base, head)
    assert ("breaking", "risk.chargeback_ratio_weekly", "table removed") in got
    assert ("compatible", "risk.extra", "table added") in got
    assert got[0][0] == "breaking"  # breaking changes first


def test_a_bad_contract_version_is_a_located_error(head) -> None:
    edit(head, TRANSACTIONS, "  'mesh.access' = 'public',", "  'mesh.access' = 'public',\n  'mesh.version' = 'two',")
    with pytest.raises(MeshValidationError) as err:
        load_mesh(head)
    [e] = err.value.errors
    assert e.file.endswith("ddl/payments/transactions.sql") and e.line == 17 and "mesh.version" in e.message
