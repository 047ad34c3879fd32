"""Where a DAG file names its ids: the glue reads the file once per version, the rules only look up."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_mesh.governance.facts import source_lines


def test_source_lines_find_dag_and_task_ids_and_follow_edits(tmp_path: Path) -> None:
    dag_file = tmp_path / "d.py"
    dag_file.write_text('with DAG(dag_id="d1"):\n    a = X(task_id="a")\n    b = X(task_id = \'b\')\n')
    lines = source_lines(str(dag_file))
    assert (lines.of("dag_id", "d1"), lines.of("task_id", "a"), lines.of("task_id", "b")) == (1, 2, 3)
    assert lines.of("task_id", "missing") == 1
    dag_file.write_text('\n\nwith DAG(dag_id="d1"):\n    pass\n')
    os.utime(dag_file, ns=(1, os.stat(dag_file).st_mtime_ns + 1_000_000))  # a new version of the file
    assert source_lines(str(dag_file)).of("dag_id", "d1") == 3
    assert source_lines(str(tmp_path / "gone.py")).of("dag_id", "d1") == 1
    assert source_lines(None).of("dag_id", "d1") == 1
