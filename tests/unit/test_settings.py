"""Settings: one source ([mesh] through Airflow's conf), declared once in the provider info; safe with no registry."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from conftest import ROOT

from airflow_mesh import __version__, settings
from airflow_mesh.provider import MESH_OPTIONS, get_provider_info


def test_version_lives_in_one_place() -> None:
    info = get_provider_info()
    assert info["versions"] == [__version__]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'attr = "airflow_mesh.__version__"' in pyproject
    assert not re.search(r"^version\s*=\s*\"", pyproject, re.MULTILINE)  # no literal version beside the attr
    assert "[metadata]" not in (ROOT / "setup.cfg").read_text()


def test_provider_info_declares_every_setting_with_description_type_and_default() -> None:
    info = get_provider_info()
    for key in ("package-name", "name", "description", "versions", "connection-types", "config", "notifications",
                "triggers"):
        assert info[key], key
    options = info["config"]["mesh"]["options"]
    assert {"root", "enforce", "recheck_seconds", "cache_dir", "backfill_max_runs",
            "backfill_max_active_runs"} <= set(options)
    assert not {"warehouse", "example_poke_seconds"} & set(options)  # the example's own, in dags/_example/
    for key, option in options.items():
        assert option["description"] and option["type"] in ("string", "integer", "float", "boolean"), key
        assert isinstance(option["default"], str), key
    assert options["root"]["default"] == ""  # no packaged registry: the mesh stays out of the way


def test_airflow_resolves_mesh_options_from_cfg_env_and_provider_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.configuration import conf

    monkeypatch.delenv("AIRFLOW__MESH__RECHECK_SECONDS", raising=False)
    assert conf.get("mesh", "recheck_seconds") == MESH_OPTIONS["recheck_seconds"]["default"]  # provider default
    monkeypatch.setenv("AIRFLOW__MESH__RECHECK_SECONDS", "42.5")
    assert settings.recheck_seconds() == 42.5
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MAX_ACTIVE_RUNS", "7")
    assert settings.setting("backfill_max_active_runs") == 7
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MAX_RUNS", "many")
    with pytest.raises(settings.MeshSettingError, match=r"\[mesh\] backfill_max_runs is 'many', not an integer"):
        settings.setting("backfill_max_runs")


def test_boolean_settings_parse_as_airflow_writes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MATERIALIZER", "False")
    assert settings.setting("backfill_materializer") is False
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MATERIALIZER", "true")
    assert settings.setting("backfill_materializer") is True
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MATERIALIZER", "sometimes")
    with pytest.raises(settings.MeshSettingError, match=r"\[mesh\] backfill_materializer is 'sometimes', not a boolean"):
        settings.setting("backfill_materializer")


def test_no_root_means_not_configured_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__ROOT", "")
    assert not settings.is_configured()
    with pytest.raises(settings.MeshNotConfigured, match=r"set \[mesh\] root \(AIRFLOW__MESH__ROOT\)"):
        settings.configured_mesh()


def test_enforce_mode_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__ENFORCE", "WARN")
    assert settings.enforce_mode() == "warn"
    monkeypatch.setenv("AIRFLOW__MESH__ENFORCE", "loose")
    with pytest.raises(settings.MeshSettingError, match="use strict, warn or off"):
        settings.enforce_mode()


def test_cache_defaults_to_the_airflow_home(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.configuration import AIRFLOW_HOME

    monkeypatch.delenv("AIRFLOW__MESH__CACHE_DIR", raising=False)
    assert settings.cache_dir() == Path(AIRFLOW_HOME) / "mesh-cache"
    monkeypatch.setenv("AIRFLOW__MESH__CACHE_DIR", "/srv/c")
    assert settings.cache_dir() == Path("/srv/c")


def test_policy_without_a_registry_changes_nothing_and_warns_once(monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    from datetime import datetime

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    from airflow_mesh import policy

    monkeypatch.setenv("AIRFLOW__MESH__ROOT", "")
    monkeypatch.setenv("AIRFLOW__MESH__ENFORCE", "strict")
    monkeypatch.setattr(policy, "_warned_not_configured", False)
    with DAG(dag_id="deploy_unit_no_team", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        task = EmptyOperator(task_id="noop")  # no team tag: strict would reject it if a mesh were configured
    with caplog.at_level(logging.WARNING, logger="airflow_mesh.policy"):
        policy.dag_policy(dag)
        policy.dag_policy(dag)
    assert task.on_failure_callback == []  # no owner alert attached
    assert task.owner == "airflow"
    warnings = [r for r in caplog.records if "no mesh registry is configured" in r.getMessage()]
    assert len(warnings) == 1


def test_produce_operator_requires_its_writer() -> None:
    from airflow_mesh.operators import ProduceTableOperator

    with pytest.raises(TypeError, match="missing keyword argument 'python_callable'"):
        ProduceTableOperator(task_id="t", table="payments.fx_rates")
    with pytest.raises(TypeError, match="python_callable must be the function that writes the partition"):
        ProduceTableOperator(task_id="t", table="payments.fx_rates", python_callable="write_partition")


def test_deployment_doc_lists_the_settings_as_declared() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("settings_table", ROOT / "scripts" / "settings_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.settings_table() in (ROOT / "docs" / "deployment.md").read_text()


def test_no_option_is_newer_than_the_package() -> None:
    from packaging.version import Version

    release = Version(__version__).release
    for key, option in get_provider_info()["config"]["mesh"]["options"].items():
        assert Version(option["version_added"]).release <= release, f"{key} says version_added {option['version_added']}"
