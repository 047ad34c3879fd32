"""``airflow-mesh check DAGS_FOLDER``: the cluster policy's rules, offline, for a team's CI.

It parses the folder with Airflow's own DagBag (the code the dag processor runs)
in a throw-away Airflow home, so it needs no running Airflow and no metadata DB.
Ownership rules are evaluated here for every DAG (the policy is set to ``off`` in
this process so that one bad DAG does not hide the others' findings); DAG files
that fail to import at all (syntax errors, a ``TableSensor`` on a private table,
a ``ProduceTableOperator`` on another team's table, ...) are reported with the
line of the DAG file where the error was raised.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from airflow_mesh.core.registry.models import MeshError


def _isolated_airflow_home() -> None:
    """Parse without touching (or needing) anyone's Airflow: a fresh home unless one is set."""
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-mesh-check-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "CRITICAL")  # findings are printed, not logged
    os.environ["AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACK_DEPTH"] = "50"  # keep the DAG file's own frame
    os.environ["AIRFLOW__MESH__ENFORCE"] = "off"


def check_folder(folder: Path) -> tuple[int, list[MeshError]]:
    """Parse every DAG file under ``folder``: (number of DAGs that imported, every finding)."""
    _isolated_airflow_home()
    from airflow_mesh.airflow_compat import DagBag
    from airflow_mesh.core.contract import check_contract
    from airflow_mesh.core.rules import check_dag
    from airflow_mesh.governance.facts import dag_facts, timetable_facts
    from airflow_mesh.settings import configured_mesh

    folder = folder.resolve()
    if str(folder) not in sys.path:  # DAG files import their folder's helpers, as in Airflow's bundle DagBag
        sys.path.append(str(folder))
    bag = DagBag(str(folder), safe_mode=False, bundle_path=folder)
    findings: list[MeshError] = []
    for path, error in sorted(bag.import_errors.items()):
        full = str(folder / path) if not os.path.isabs(path) else path
        findings.append(MeshError(file=full, line=_line_in_traceback(full, error), rule="import",
                                  message=_last_line(error)))
    mesh = configured_mesh()
    for dag in sorted(bag.dags.values(), key=lambda d: d.dag_id):
        findings += check_dag(mesh, dag_facts(dag))[1]
        findings += check_contract(mesh, timetable_facts(dag))
    return len(bag.dags), findings


def _last_line(error: str) -> str:
    lines = [ln for ln in error.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else error


def _line_in_traceback(file: str, error: str) -> int:
    """The deepest traceback frame in the DAG file itself (1 when there is none)."""
    lines = [int(m.group(2)) for m in re.finditer(r'File "([^"]+)", line (\d+)', error)
             if os.path.realpath(m.group(1)) == os.path.realpath(file)]
    if lines:
        return lines[-1]
    m = re.search(r"\((?:[^()]*), line (\d+)\)", error)  # SyntaxError: ... (file.py, line 7)
    return int(m.group(1)) if m else 1
