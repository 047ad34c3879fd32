"""The non-public Airflow APIs the mesh relies on, each checked by name, place and signature.

An Airflow upgrade that moves, renames or changes one of them fails here, naming it, instead of deep in a
backfill. And no module but ``airflow_mesh/airflow_compat.py`` may reach such an API (the upgrade is one place).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import airflow_mesh
from airflow_mesh import airflow_compat

PACKAGE = Path(airflow_mesh.__path__[0])
NON_PUBLIC_MODULES = ("airflow._shared", "airflow.models.backfill", "airflow.sdk.execution_time",
                      "airflow.dag_processing", "airflow.serialization", "airflow.models.dagbag")


@pytest.mark.parametrize("name", sorted(airflow_compat.PRIVATE_APIS))
def test_every_private_api_is_where_the_mesh_expects_it(name: str) -> None:
    module, attribute = airflow_compat.PRIVATE_APIS[name]
    try:
        getattr(airflow_compat, name)
    except (ImportError, AttributeError) as err:
        pytest.fail(f"Airflow API {module}{'.' + attribute if attribute else ''} (airflow_compat.{name}) is gone: {err}")


def params(func) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p != "self"]


def test_signatures_the_mesh_calls_with() -> None:
    from airflow.models.dagrun import DagRun

    expected = {
        "DagRun._get_task_creator": (params(DagRun._get_task_creator),
                                     ["created_counts", "ti_mutation_hook", "hook_is_noop", "dag_version_id"]),
        "DagRun._create_tasks": (params(DagRun._create_tasks)[:2] + ["session" if "session" in params(DagRun._create_tasks) else "-"],
                                 ["tasks", "task_creator", "session"]),
        "taskinstance._recalculate_dagrun_queued_at_deadlines": (
            params(airflow_compat.recalculate_dagrun_queued_at_deadlines), ["dagrun", "new_queued_at", "session"]),
        "traces.new_task_run_carrier": (params(airflow_compat.new_task_run_carrier), ["dag_run_context_carrier"]),
    }
    changed = {api: got for api, (got, want) in expected.items() if got != want}
    assert changed == {}, f"Airflow changed these signatures (now {changed}); adapt airflow_compat.py"
    states = params(airflow_compat.RuntimeTaskInstance.get_task_states)
    assert {"dag_id", "task_ids", "logical_dates"} <= set(states), f"RuntimeTaskInstance.get_task_states is now {states}"
    fields = set(airflow_compat.GetTaskStates.model_fields)
    assert {"dag_id", "task_ids", "logical_dates"} <= fields, f"comms.GetTaskStates fields are now {fields}"
    assert {"dag_folder", "safe_mode", "bundle_path"} <= set(params(airflow_compat.DagBag.__init__))
    runner = airflow_compat.task_runner  # SUPERVISOR_COMMS is declared there and set by the triggerer at start
    assert "SUPERVISOR_COMMS" in vars(runner).get("__annotations__", {}) or hasattr(runner, "SUPERVISOR_COMMS"), \
        "task_runner.SUPERVISOR_COMMS is gone"
    assert {"dag_id", "is_paused", "completed_at", "max_active_runs"} <= set(airflow_compat.Backfill.__table__.columns.keys())
    assert {"backfill_id", "dag_run_id", "sort_ordinal"} <= set(airflow_compat.BackfillDagRun.__table__.columns.keys())


def private_uses(path: Path) -> list[str]:
    """Imports of non-public Airflow modules or underscore names, and ``name._attr`` on another object."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "airflow":
            if node.module.startswith(NON_PUBLIC_MODULES) or any(a.name.startswith("_") for a in node.names) \
                    or any(part.startswith("_") for part in node.module.split(".")):
                found.append(f"{node.lineno}: from {node.module} import {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.startswith(NON_PUBLIC_MODULES)]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                and isinstance(node.value, ast.Name) and node.value.id not in ("self", "cls"):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_module_but_the_compat_seam_reaches_a_private_airflow_api() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "airflow_compat.py" or "migrations" in path.parts:
            continue
        if uses := private_uses(path):
            offenders[str(path.relative_to(PACKAGE))] = uses
    assert offenders == {}, "move these behind airflow_mesh/airflow_compat.py"


def test_every_name_the_package_takes_from_the_seam_is_there() -> None:
    wanted = {(str(path.relative_to(PACKAGE)), alias.name)
              for path in sorted(PACKAGE.rglob("*.py"))
              for node in ast.walk(ast.parse(path.read_text()))
              if isinstance(node, ast.ImportFrom) and node.module == "airflow_mesh.airflow_compat"
              for alias in node.names}
    assert wanted, "nothing imports the seam: the check below would prove nothing"
    missing = sorted((where, name) for where, name in wanted if not hasattr(airflow_compat, name))
    assert missing == []


def test_the_check_sees_what_it_looks_for(tmp_path: Path) -> None:
    planted = tmp_path / "m.py"
    planted.write_text("from airflow._shared.timezones import timezone\nfrom airflow.models.taskinstance import _x\n"
                       "import airflow.models.backfill\nrun._create_tasks()\nself._ok\n")
    assert [u.split(":")[0] for u in private_uses(planted)] == ["1", "2", "3", "4"]
