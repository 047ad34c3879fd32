"""Each ownership rule lives once (core/rules.py); the registry and the DAG checks give the same answer."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import EXAMPLE_ROOT

from airflow_mesh.core.ownership import owning_team
from airflow_mesh.core.registry import validate_root
from airflow_mesh.core.registry.access import may_read, read_error
from airflow_mesh.core.registry.models import MeshError
from airflow_mesh.core.rules import DagFacts, TaskFacts, check_dag, producer_error
from airflow_mesh.core.source_lines import SourceLines


def example_mesh():
    mesh, errors = validate_root(EXAMPLE_ROOT)
    assert errors == []
    return mesh


def test_private_read_is_one_rule_for_the_registry_and_for_dags(tmp_path: Path) -> None:
    mesh = example_mesh()
    tokens = mesh.table("payments.card_tokens")
    assert tokens.access == "private"
    assert may_read(tokens, "payments") and not may_read(tokens, "risk")
    assert may_read(mesh.table("payments.transactions"), "risk")

    # The DAG check: a risk task reading payments' private table.
    _, violations = check_dag(mesh, DagFacts("risk_daily", "/x/dags/risk/risk_daily.py", (), (
        TaskFacts("score_fraud", reads=("payments.card_tokens",)),)))
    expected = read_error("task risk_daily.score_fraud", "risk", tokens, mesh.teams["payments"],
                          file="/x/dags/risk/risk_daily.py", line=1)
    assert violations == [expected]
    assert str(expected) == (
        "/x/dags/risk/risk_daily.py:1: [reads] task risk_daily.score_fraud (team risk) reads payments.card_tokens, "
        "a private table of team payments. Fix: Ask Ana Souza <ana.souza@example.com> to make it public "
        "(mesh.access in ddl/payments/card_tokens.sql), or read a public table instead")

    # The registry: a risk table listing it in mesh.inputs gets the same rule's error.
    root = tmp_path / "mesh"
    shutil.copytree(EXAMPLE_ROOT / "teams", root / "teams")
    shutil.copytree(EXAMPLE_ROOT / "ddl", root / "ddl")
    mr = root / "ddl" / "risk" / "merchant_risk.sql"
    mr.write_text(mr.read_text().replace("'mesh.inputs' = '", "'mesh.inputs' = 'payments.card_tokens, "))
    _, errors = validate_root(root)
    (error,) = errors
    assert error == read_error("risk.merchant_risk", "risk", tokens, mesh.teams["payments"],
                               file="ddl/risk/merchant_risk.sql", line=error.line)


def test_producer_rule_names_the_contracts_producer() -> None:
    t = example_mesh().table("risk.fraud_scores_daily")
    assert producer_error("risk_daily", "score_fraud", t, file="f.py", line=3) is None
    error = producer_error("risk_adhoc", "rewrite", t, file="f.py", line=3)
    assert error.rule == "writes" and error.line == 3
    assert "names risk_daily.score_fraud as its only producer (ddl/risk/fraud_scores_daily.sql:" in error.message


def test_team_of_producer_dag_and_owning_team_say_what_they_answer() -> None:
    mesh = example_mesh()
    # A DAG that produces no table: the registry has no answer, the folder does.
    assert mesh.team_of_producer_dag("risk_adhoc") is None
    assert owning_team(mesh, "risk_adhoc", "/x/dags/risk/adhoc.py") == "risk"
    assert owning_team(mesh, "risk_adhoc", None, ["team:payments"]) == "payments"
    # A producing DAG: the tables decide, whatever the folder says.
    assert mesh.team_of_producer_dag("risk_daily") == "risk"
    assert owning_team(mesh, "risk_daily", "/x/dags/payments/risk_daily.py") == "risk"


def test_one_located_message_type() -> None:
    e = MeshError(file="dags/x.py", line=4, rule="import", message="NameError: y")
    assert str(e) == "dags/x.py:4: [import] NameError: y"
    assert str(MeshError(file="ddl/a.sql", line=2, message="m", fix="f")) == "ddl/a.sql:2: m. Fix: f"


def test_findings_point_at_the_lines_the_facts_carry() -> None:
    """The rules read no file: the glue hands them where the DAG file names its ids."""
    mesh = example_mesh()
    lines = SourceLines({("dag_id", "risk_adhoc"): 4, ("task_id", "rewrite"): 9})
    _, violations = check_dag(mesh, DagFacts("risk_adhoc", "/nowhere/dags/risk/adhoc.py", (), (
        TaskFacts("rewrite", writes=("risk.fraud_scores_daily",)),), lines=lines))
    assert [(v.rule, v.line) for v in violations] == [("writes", 9)]
    _, violations = check_dag(mesh, DagFacts("nobody", "/nowhere/x.py", (), (), lines=lines))
    assert [(v.rule, v.line) for v in violations] == [("team", 1)]  # not spelled in the file: line 1
