"""Governance: the ownership rules through every door (pure rules, the dag processor's DagBag,
``airflow dags test``, the offline ``airflow-mesh check``), team defaults and owner alerts, and
FAB team roles synced on a real FabAuthManager DB."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT

from airflow_mesh.core.intervals import UTC
from airflow_mesh.core.rules import DagFacts, TaskFacts, check_dag
from airflow_mesh.settings import configured_mesh

BIN = Path(sys.executable).parent

# One planted violation per rule, as a team member would write it.
PLANTED = {
    "misc/no_team.py": """
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator
        with DAG(dag_id="nobodys_dag", schedule=None, start_date=datetime(2026, 1, 1)):
            EmptyOperator(task_id="noop")
    """,
    "payments/overwrite_scores.py": """
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator
        from airflow_mesh.utils.assets import table_asset
        from airflow_mesh.settings import configured_mesh

        with DAG(dag_id="payments_overwrite", schedule="@daily", start_date=datetime(2026, 1, 1)):
            EmptyOperator(task_id="fix_scores", outlets=[table_asset(configured_mesh().table("risk.fraud_scores_daily"))])
    """,
    "business-intelligence/peek_private.py": """
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator
        from airflow_mesh.utils.assets import table_asset
        from airflow_mesh.settings import configured_mesh

        with DAG(dag_id="bi_peek", schedule="@weekly", start_date=datetime(2026, 1, 1)):
            EmptyOperator(task_id="read_ratio", inlets=[table_asset(configured_mesh().table("risk.chargeback_ratio_weekly"))])
    """,
}


@pytest.fixture()
def planted(tmp_path: Path) -> Path:
    for rel, source in PLANTED.items():
        path = tmp_path / "dags" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
    return tmp_path / "dags"


def offline_env(tmp_path: Path) -> dict[str, str]:
    """A shell with no Airflow home, DB or config: what a team's CI job has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path / "home")
    return env


# --- pure rules ---------------------------------------------------------------

def test_rules_accept_a_dag_that_follows_them() -> None:
    team, violations = check_dag(configured_mesh(), DagFacts(
        "risk_daily", "/x/dags/risk/risk_daily.py", ("team:risk",),
        (TaskFacts("score_fraud", writes=("risk.fraud_scores_daily",)),
         TaskFacts("wait", reads=("payments.transactions", "auth.logins")))))
    assert team == "risk" and violations == []


def test_rules_reject_two_teams_and_non_producers() -> None:
    mesh = configured_mesh()
    team, violations = check_dag(mesh, DagFacts("risk_daily", "/x/dags/payments/risk_daily.py", ()))
    assert team is None and [v.rule for v in violations] == ["team"]
    assert "tables say risk" in violations[0].message and "folder say payments" in violations[0].message
    _, violations = check_dag(mesh, DagFacts("risk_adhoc", "/x/dags/risk/adhoc.py", (), (
        TaskFacts("rewrite", writes=("risk.fraud_scores_daily",)),)))
    assert [v.rule for v in violations] == ["writes"]
    assert "names risk_daily.score_fraud as its only producer" in violations[0].message
    _, violations = check_dag(mesh, DagFacts("bi_x", "/x/dags/business-intelligence/x.py", (), (
        TaskFacts("t", reads=("no.such_table",)),)))
    assert "not in the registry" in violations[0].message


# --- the dag processor's code path (DagBag applies the entry-point policy) ----------

def test_example_mesh_imports_with_team_defaults_and_owner_alerts() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from airflow_mesh.notifications.owner import MeshOwnerNotifier

    bag = DagBag(str(ROOT / "dags"))
    assert bag.import_errors == {} and len(bag.dags) == 11
    task = bag.dags["payments_hourly"].get_task("load_transactions")
    assert task.owner == "payments"                        # team default: task did not set an owner
    assert task.retries == 1                               # the DAG's default_args win over the team's 2
    assert [c.team for c in task.on_failure_callback if isinstance(c, MeshOwnerNotifier)] == ["payments"]


def test_team_defaults_fill_only_what_the_task_left_unset(tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    path = tmp_path / "payments" / "defaults.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent("""
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator
        with DAG(dag_id="payments_defaults", schedule=None, start_date=datetime(2026, 1, 1)):
            EmptyOperator(task_id="plain")
            EmptyOperator(task_id="custom", owner="ana", retries=0)
    """))
    dag = DagBag(str(tmp_path)).dags["payments_defaults"]
    plain, custom = dag.get_task("plain"), dag.get_task("custom")
    assert (plain.owner, plain.retries, plain.retry_delay) == ("payments", 2, timedelta(minutes=5))
    assert (custom.owner, custom.retries) == ("ana", 0)


def test_each_planted_violation_fails_import_in_the_dag_processor(planted: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(planted))
    assert bag.dags == {}
    errors = {Path(k).name: v for k, v in bag.import_errors.items()}
    assert "DAG nobodys_dag belongs to no registered team" in errors["no_team.py"]
    assert "put the file under dags/<team>/ or tag the DAG 'team:<team>'" in errors["no_team.py"]
    assert "payments_overwrite.fix_scores (team payments) writes risk.fraud_scores_daily, which team risk owns" \
        in errors["overwrite_scores.py"]
    assert "overwrite_scores.py:8: [writes]" in errors["overwrite_scores.py"]
    assert "bi_peek.read_ratio (team business-intelligence) reads risk.chargeback_ratio_weekly, a private table" \
        in errors["peek_private.py"]


def test_warn_mode_imports_the_dag_but_keeps_the_message(planted: Path, monkeypatch, caplog) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW__MESH__ENFORCE", "warn")
    bag = DagBag(str(planted / "misc"))
    assert "nobodys_dag" in bag.dags
    assert "belongs to no registered team" in caplog.text


# --- airflow dags test and the offline check --------------------------------------

@pytest.mark.usefixtures("airflow_db")
def test_airflow_dags_test_refuses_a_dag_that_breaks_a_rule(planted: Path) -> None:
    env = dict(os.environ, AIRFLOW__CORE__DAGS_FOLDER=str(planted), PATH=f"{BIN}:{os.environ['PATH']}")
    result = subprocess.run(["airflow", "dags", "test", "payments_overwrite", "2026-06-01"], env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode != 0
    assert "writes risk.fraud_scores_daily, which team risk owns" in result.stdout + result.stderr


def test_check_passes_the_example_mesh_with_no_airflow_running(tmp_path: Path) -> None:
    result = subprocess.run(["airflow-mesh", "check", str(ROOT / "dags"), "--root", str(ROOT)],
                            env=offline_env(tmp_path), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "OK: 11 DAG(s)" in result.stdout


def test_check_lists_every_violation_with_file_and_line(planted: Path, tmp_path: Path) -> None:
    # A fourth mistake that breaks the import itself: a sensor on a private table.
    sensor = planted / "business-intelligence" / "wait_private.py"
    sensor.write_text(textwrap.dedent("""
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow_mesh.sensors import TableSensor

        with DAG(dag_id="bi_wait_private", schedule="@weekly", start_date=datetime(2026, 1, 1)):
            TableSensor(task_id="wait_ratio", table="risk.chargeback_ratio_weekly")
    """).lstrip())
    result = subprocess.run(["airflow-mesh", "check", str(planted), "--root", str(ROOT)], env=offline_env(tmp_path),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert f"{planted}/misc/no_team.py:4: [team] DAG nobodys_dag belongs to no registered team" in result.stderr
    assert any(ln.startswith(f"{planted}/payments/overwrite_scores.py:8: [writes]") for ln in lines)
    assert any(ln.startswith(f"{planted}/business-intelligence/peek_private.py:8: [reads]") for ln in lines)
    assert any(ln.startswith(f"{sensor}:6: [import]") and "PrivateTableError" in ln for ln in lines)
    assert "4 violation(s)" in result.stderr


# --- alerts to the owning team ----------------------------------------------------

@pytest.fixture()
def webhook():
    """A real local HTTP endpoint that records every JSON POST it receives."""
    received: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}", received
    server.shutdown()


@pytest.mark.usefixtures("airflow_db")
def test_failed_cross_team_wait_alerts_the_owner_naming_the_upstream_team(tmp_path, webhook, monkeypatch) -> None:
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from seed import seed_runs

    address, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_MESH_ALERTS_BI", f"http://{address}/bi-alerts")
    path = tmp_path / "business-intelligence" / "alert_probe.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent("""
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow_mesh.sensors import TableSensor
        with DAG(dag_id="bi_alert_probe", schedule="@daily", start_date=datetime(2026, 1, 1)):
            TableSensor(task_id="wait_transactions", table="payments.transactions", retries=0)
    """))
    # Parsed through the policy and stored as the dag processor does.
    bag = BundleDagBag(dag_folder=str(tmp_path), bundle_path=str(tmp_path), bundle_name="dags-folder")
    sync_bag_to_db(bag, "dags-folder", None)
    dag = bag.dags["bi_alert_probe"]
    day = datetime(2026, 6, 3, tzinfo=UTC)
    seed_runs("payments_hourly", [day + timedelta(hours=1)], task_states={"load_transactions": "failed"})

    dr = dag.test(logical_date=day + timedelta(days=1))

    assert dr.state == "failed"
    path_, alert = received.get(timeout=30)
    assert path_ == "/bi-alerts"
    assert (alert["team"], alert["dag_id"], alert["task_id"]) == ("business-intelligence", "bi_alert_probe",
                                                                   "wait_transactions")
    assert alert["run_id"] == dr.run_id and alert["channel"] == "#bi-alerts"
    assert alert["upstream"][0]["team"] == "payments"
    assert "Ana Souza <ana.souza@example.com>" in alert["text"]
    assert "/dags/bi_alert_probe/runs/" in alert["log_url"]
    assert received.empty()


# --- FAB team roles ----------------------------------------------------------------

def _role_perms(role: str) -> set[tuple[str, str]]:
    """The DAG permissions of a FAB role, read through FAB's own models (any metadata DB)."""
    from airflow.providers.fab.auth_manager.models import Role
    from airflow.utils.session import create_session

    with create_session() as session:
        r = session.query(Role).filter(Role.name == role).one()
        return {(p.action.name, p.resource.name) for p in r.permissions if p.resource.name.startswith("DAG")}


def _grant(role: str, action: str, resource: str) -> None:
    """Add a permission to a role the way FAB does (its ORM picks ids the way the DB wants them)."""
    from airflow.providers.fab.auth_manager.models import Action, Permission, Resource, Role
    from airflow.utils.session import create_session

    with create_session() as session:
        perm = (session.query(Permission).join(Action, Permission.action).join(Resource, Permission.resource)
                .filter(Action.name == action, Resource.name == resource).one())
        owner = session.query(Role).filter(Role.name == role).one()
        owner.permissions.append(perm)


@pytest.mark.usefixtures("airflow_db")
def test_sync_roles_on_a_real_fab_db_is_idempotent_and_revokes_moved_dags(airflow_db: Path) -> None:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}",
               AIRFLOW__CORE__AUTH_MANAGER="airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager")
    subprocess.run(["airflow", "fab-db", "migrate"], env=env, check=True, capture_output=True, timeout=300)

    first = subprocess.run(["airflow-mesh", "sync-roles"], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    risk = _role_perms("team:risk")
    assert {("can_read", "DAG:risk_daily"), ("can_edit", "DAG:risk_daily"), ("can_create", "DAG Run:risk_daily")} <= risk
    assert ("can_read", "DAG:payments_hourly") in risk and ("can_edit", "DAG:payments_hourly") not in risk
    # PUT on its own runs (pausing or cancelling their backfills, as Airflow's backfill API asks), not on others'
    assert ("can_edit", "DAG Run:risk_daily") in risk and ("can_edit", "DAG Run:payments_hourly") not in risk

    # payments_hourly used to be risk's: a stale edit grant, as left behind by an ownership change.
    _grant("team:risk", "can_edit", "DAG:payments_hourly")
    assert ("can_edit", "DAG:payments_hourly") in _role_perms("team:risk")

    second = subprocess.run(["airflow-mesh", "sync-roles"], env=env, capture_output=True, text=True, timeout=300)
    assert "team:risk: revoke can_edit on DAG:payments_hourly" in second.stdout
    assert "1 change(s)" in second.stdout
    assert _role_perms("team:risk") == risk
    third = subprocess.run(["airflow-mesh", "sync-roles"], env=env, capture_output=True, text=True, timeout=300)
    assert "0 change(s)" in third.stdout


def test_a_mistyped_enforce_setting_is_named(planted: Path, monkeypatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW__MESH__ENFORCE", "strickt")
    bag = DagBag(str(planted / "misc"))
    assert bag.dags == {}
    assert "[mesh] enforce is 'strickt'; use strict, warn or off" in next(iter(bag.import_errors.values()))
