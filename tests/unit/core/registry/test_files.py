"""Hostile or broken registry files: each is a located error, reported with every other error,
in bounded time and memory (a hang fails the test through its timeout instead of stalling the suite)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from airflow_mesh.core.registry import validate_root
from airflow_mesh.core.registry.files import MAX_DDL_FILE_BYTES


def errors_of(root: Path) -> list[str]:
    mesh, errors = validate_root(root)
    assert mesh is None
    return [str(e) for e in errors]


def with_unrelated_error(root: Path) -> str:
    """Break an unrelated file too: its error must still be reported."""
    refunds = root / "ddl" / "payments" / "refunds.sql"
    refunds.write_text(refunds.read_text().replace("'public'", "'everyone'"))
    return "ddl/payments/refunds.sql"


@pytest.mark.timeout(60)
def test_every_kind_of_unreadable_file_is_a_located_error_reported_together(mesh_copy: Path, tmp_path: Path) -> None:
    ddl = mesh_copy / "ddl" / "risk"
    unrelated = with_unrelated_error(mesh_copy)
    (ddl / "latin1.sql").write_bytes("CREATE TABLE risk.latin1 (\n  a STRING COMMENT 'caf\xe9'\n)".encode("latin-1"))
    (mesh_copy / "teams" / "ops.yaml").write_bytes(b"name: ops\ndescription: \xff\xfe\n")
    (ddl / "dangling.sql").symlink_to(ddl / "does_not_exist.sql")
    (ddl / "folder.sql").mkdir()
    os.mkfifo(ddl / "pipe.sql")
    (ddl / "zero.sql").symlink_to("/dev/zero")
    outside = tmp_path / "outside.sql"
    outside.write_text((mesh_copy / "ddl" / "payments" / "fx_rates.sql").read_text())
    (ddl / "escape.sql").symlink_to(outside)
    (ddl / "huge.sql").write_bytes(b"-- " + b"x" * MAX_DDL_FILE_BYTES + b"\n")

    errors = errors_of(mesh_copy)
    text = "\n".join(errors)
    expect = {
        "ddl/risk/latin1.sql:2": "is not UTF-8 text (byte 0xe9",
        "teams/ops.yaml:2": "is not UTF-8 text (byte 0xff",
        "ddl/risk/dangling.sql:1": "dangling symlink",
        "ddl/risk/folder.sql:1": "is a directory",
        "ddl/risk/pipe.sql:1": "is not a regular file",
        "ddl/risk/zero.sql:1": "outside the registry root",
        "ddl/risk/escape.sql:1": "outside the registry root",
        "ddl/risk/huge.sql:1": f"over the {MAX_DDL_FILE_BYTES}-byte limit",
        unrelated: "mesh.access 'everyone'",
    }
    for where, what in expect.items():
        assert any(e.startswith(where) and what in e and "Fix: " in e for e in errors), f"{where} {what}\n{text}"


def test_a_symlink_inside_the_root_is_followed(mesh_copy: Path) -> None:
    fx = mesh_copy / "ddl" / "payments" / "fx_rates.sql"
    moved = mesh_copy / "shared-fx.sql"
    fx.rename(moved)
    fx.symlink_to(moved)
    mesh, errors = validate_root(mesh_copy)
    assert errors == [] and "payments.fx_rates" in mesh.tables


def test_a_team_folder_linked_out_of_the_root_is_refused(mesh_copy: Path, tmp_path: Path) -> None:
    shutil.move(mesh_copy / "ddl" / "risk", tmp_path / "risk-elsewhere")
    (mesh_copy / "ddl" / "risk").symlink_to(tmp_path / "risk-elsewhere")
    errors = errors_of(mesh_copy)
    assert any(e.startswith("ddl/risk/merchant_risk.sql:1: symlink to ") and "outside the registry root" in e
               for e in errors), errors
