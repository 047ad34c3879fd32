"""The registry loader: the example mesh loads; every planted error is reported at once with file and line;
the caches see every edit and cannot run code."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_ROOT

from airflow_mesh.core.registry import MeshValidationError, load_mesh, validate_root
from airflow_mesh.core.registry.loader import clear_memory_cache


def line_of(path: Path, needle: str) -> int:
    for no, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return no
    raise AssertionError(f"{needle!r} not in {path}")


def test_example_mesh_is_valid_and_answers_graph_questions() -> None:
    mesh, errors = validate_root(EXAMPLE_ROOT)
    assert errors == []
    assert len(mesh.teams) >= 4 and len(mesh.tables) >= 10
    assert mesh.table("payments.transactions").team == "payments"
    assert mesh.table("risk.fraud_scores_daily").producer == "risk_daily.score_fraud"
    assert set(mesh.downstream("payments.transactions")) == {
        "payments.settlements_daily", "risk.fraud_scores_daily", "bi.revenue_hourly", "bi.transactions_monthly"}
    assert mesh.upstream("risk.fraud_scores_daily") == ("payments.transactions", "auth.logins")
    assert mesh.team_of_producer_dag("bi_weekly") == "business-intelligence"
    down = mesh.closure("payments.transactions")
    assert down["bi.revenue_monthly"] == 3 and down["payments.transactions"] == 0
    order = mesh.topological_order(set(down))
    assert order.index("payments.settlements_daily") < order.index("bi.merchant_revenue_daily") < order.index(
        "bi.revenue_monthly")
    col = next(c for c in mesh.table("payments.transactions").columns if c.name == "hour")
    assert col.partition and col.comment


def test_every_planted_error_is_reported_with_file_and_line(mesh_copy: Path) -> None:
    ddl = mesh_copy / "ddl"
    # 1. missing column comment
    txn = ddl / "payments" / "transactions.sql"
    txn.write_text(txn.read_text().replace(" COMMENT 'ISO 4217 currency code'", ""))
    # 2. table defined twice (copied into another team's folder)
    shutil.copy(ddl / "payments" / "refunds.sql", ddl / "risk" / "refunds.sql")
    # 3. unknown team folder
    (ddl / "marketing").mkdir()
    shutil.copy(ddl / "payments" / "fx_rates.sql", ddl / "marketing" / "fx_rates.sql")
    # 4. producer claimed by another team's DAG
    mr = ddl / "risk" / "merchant_risk.sql"
    mr.write_text(mr.read_text().replace("risk_merchant.build_merchant_risk", "payments_daily.build_merchant_risk"))
    # 5. cycle: logins reads sessions_daily which reads logins
    logins = ddl / "authentication" / "logins.sql"
    logins.write_text(logins.read_text().replace("'mesh.start_date' = '2026-01-01'",
                                                 "'mesh.start_date' = '2026-01-01',\n  'mesh.inputs' = 'auth.sessions_daily'"))
    # 6. malformed SQL
    (ddl / "risk" / "broken.sql").write_text("CREATE TABLE risk.broken (\n  a STRING COMMENT 'x',\n  b STRING COMMENT 'y'\n")
    # 7. unknown key in a team file, 8. reading another team's private table
    team = mesh_copy / "teams" / "risk.yaml"
    team.write_text(team.read_text() + "slack: '#oops'\n")
    kpi = ddl / "business-intelligence" / "kpi_weekly.sql"
    kpi.write_text(kpi.read_text().replace("risk.fraud_scores_daily'", "risk.fraud_scores_daily, payments.card_tokens'"))
    # 9. bad schedule
    fx = ddl / "payments" / "fx_rates.sql"
    fx.write_text(fx.read_text().replace("'@daily'", "'every day'"))

    mesh, errors = validate_root(mesh_copy)
    assert mesh is None
    text = "\n".join(str(e) for e in errors)
    expect = [
        (f"ddl/payments/transactions.sql:{line_of(txn, 'currency ')}", "column 'currency' has no COMMENT"),
        ("ddl/risk/refunds.sql:2", "already defined in ddl/payments/refunds.sql:2"),
        ("ddl/marketing/fx_rates.sql:1", "belongs to no registered team"),
        (f"ddl/risk/merchant_risk.sql:{line_of(mr, 'mesh.producer')}", "a DAG belongs to one team"),
        ("cycle of mesh.inputs: auth.logins, auth.sessions_daily", ""),
        ("ddl/risk/broken.sql:", "not valid Spark SQL"),
        (f"teams/risk.yaml:{line_of(team, 'slack:')}", "unknown key 'slack'"),
        (f"ddl/business-intelligence/kpi_weekly.sql:{line_of(kpi, 'mesh.inputs')}", "bi.kpi_weekly (team business-intelligence) reads payments.card_tokens, a private table of team payments"),
        (f"ddl/payments/fx_rates.sql:{line_of(fx, 'mesh.schedule')}", "'every day' is not a cron expression"),
    ]
    for where, what in expect:
        assert any(where in str(e) and what in str(e) for e in errors), f"missing {where} {what}\n{text}"
    assert all(e.fix for e in errors), text


def test_cli_validate_lists_all_errors_and_exits_non_zero(mesh_copy: Path) -> None:
    (mesh_copy / "ddl" / "risk" / "one.sql").write_text("SELECT 1")
    t = mesh_copy / "ddl" / "payments" / "refunds.sql"
    t.write_text(t.read_text().replace("'public'", "'everyone'"))
    proc = subprocess.run([sys.executable, "-m", "airflow_mesh.cli", "validate", str(mesh_copy)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "ddl/risk/one.sql:1: expected exactly one CREATE TABLE statement, found: SELECT" in proc.stderr
    assert f"ddl/payments/refunds.sql:{line_of(t, 'mesh.access')}: mesh.access 'everyone'" in proc.stderr
    assert "2 error(s)" in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "airflow_mesh.cli", "validate", str(EXAMPLE_ROOT)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "16 tables" in ok.stdout


def test_cli_show_prints_owner_schema_and_consumers(tmp_path: Path) -> None:
    env = {"AIRFLOW__MESH__ROOT": str(EXAMPLE_ROOT), "PATH": "", "AIRFLOW_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "airflow_mesh.cli", "show", "payments.settlements_daily"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "owner      payments  Ana Souza <ana.souza@example.com>" in proc.stdout
    assert "bi.merchant_revenue_daily (business-intelligence)" in proc.stdout
    assert "net_amount" in proc.stdout and "[partition]" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "airflow_mesh.cli", "show", "settlements_daily"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "did you mean payments.settlements_daily" in bad.stderr


def test_cache_sees_edits_and_never_serves_an_invalid_registry(mesh_copy: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    clear_memory_cache()
    load = functools.partial(load_mesh, cache_dir=tmp_path / "cache", recheck_seconds=0)  # see every edit at once
    first = load(mesh_copy)
    assert load(mesh_copy) is first  # warm: same object
    assert list((tmp_path / "cache").glob("*.json"))
    clear_memory_cache()
    from_disk = load(mesh_copy)
    assert from_disk is not first and from_disk.tables.keys() == first.tables.keys()

    t = mesh_copy / "ddl" / "payments" / "refunds.sql"
    t.write_text(t.read_text().replace("'Refunds issued to shoppers.'", "'Refunds issued to shoppers and merchants.'"))
    assert load(mesh_copy).table("payments.refunds").comment == "Refunds issued to shoppers and merchants."

    t.write_text(t.read_text().replace("'public'", "'open'"))
    with pytest.raises(MeshValidationError) as info:
        load(mesh_copy)
    assert "mesh.access 'open'" in str(info.value)
    clear_memory_cache()
    with pytest.raises(MeshValidationError):  # the disk cache of the valid version is not served either
        load(mesh_copy)


def test_within_the_recheck_window_the_files_are_not_stat_again(mesh_copy: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    clear_memory_cache()
    first = load_mesh(mesh_copy, cache_dir=tmp_path / "cache", recheck_seconds=3600)
    t = mesh_copy / "ddl" / "payments" / "refunds.sql"
    t.write_text(t.read_text().replace("'Refunds issued to shoppers.'", "'Changed.'"))
    # inside the window: no file system work, same mesh
    assert load_mesh(mesh_copy, cache_dir=tmp_path / "cache", recheck_seconds=3600) is first
    assert load_mesh(mesh_copy, cache_dir=tmp_path / "cache", recheck_seconds=0).table("payments.refunds").comment == "Changed."


def test_within_the_recheck_window_no_file_is_read(mesh_copy: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_mesh.core.registry import loader

    clear_memory_cache()
    first = load_mesh(mesh_copy, cache_dir=tmp_path / "cache", recheck_seconds=3600)

    def no_io(*args, **kwargs):
        raise AssertionError("the registry was read inside the recheck window")

    monkeypatch.setattr(loader, "RegistryFiles", no_io)
    monkeypatch.setattr(loader.Path, "is_dir", no_io)
    assert load_mesh(mesh_copy, cache_dir=tmp_path / "cache", recheck_seconds=3600) is first


def _same_size_same_mtime_edit(path: Path, old: str, new: str) -> None:
    """Change the content, keep the size and put the mtime back: what a size+mtime signature misses."""
    assert len(old) == len(new)
    st = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_an_edit_keeping_size_and_mtime_is_seen_by_both_caches(mesh_copy: Path, tmp_path: Path) -> None:
    clear_memory_cache()
    load = functools.partial(load_mesh, cache_dir=tmp_path / "cache", recheck_seconds=0)
    assert load(mesh_copy).table("payments.refunds").access == "public"
    refunds = mesh_copy / "ddl" / "payments" / "refunds.sql"
    _same_size_same_mtime_edit(refunds, "'mesh.access' = 'public'", "'mesh.access' = 'privat'")
    with pytest.raises(MeshValidationError, match="mesh.access 'privat'"):  # in-process cache
        load(mesh_copy)
    clear_memory_cache()
    with pytest.raises(MeshValidationError, match="mesh.access 'privat'"):  # disk cache
        load(mesh_copy)


def test_the_disk_cache_is_json_and_a_planted_pickle_runs_no_code(mesh_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    clear_memory_cache()
    load_mesh(mesh_copy, cache_dir=cache, recheck_seconds=0)
    written = list(cache.iterdir())
    assert [json.loads(p.read_text())["format"] for p in written] == [2]
    # Plant a code-executing pickle under every name a cache file has or had.
    root = str(mesh_copy.resolve())
    planted = written + [cache / f"mesh-{hashlib.sha1(root.encode()).hexdigest()[:16]}.pickle"]
    for p in planted:
        p.write_bytes(pickle.dumps(Payload()))
    clear_memory_cache()
    mesh = load_mesh(mesh_copy, cache_dir=cache, recheck_seconds=0)
    assert not marker.exists()
    assert "payments.refunds" in mesh.tables


def test_a_cache_file_for_another_content_or_root_is_not_served(mesh_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    clear_memory_cache()
    load_mesh(mesh_copy, cache_dir=cache, recheck_seconds=0)
    (cache_file,) = cache.iterdir()
    doc = json.loads(cache_file.read_text())
    doc["tables"]["payments.refunds"]["access"] = "private"  # forged content under a stale key
    doc["key"] = "0" * 64
    cache_file.write_text(json.dumps(doc))
    clear_memory_cache()
    assert load_mesh(mesh_copy, cache_dir=cache, recheck_seconds=0).table("payments.refunds").access == "public"
