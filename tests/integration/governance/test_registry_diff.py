"""``airflow-mesh diff`` as a registry repository's CI runs it: on a scripted git history of the example
registry, as a subprocess, exit code and output checked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent
GIT = ["git", "-c", "user.name=CI", "-c", "user.email=ci@example.com"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "airflow-mesh"), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__MESH__")})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A registry repository: main holds the example registry; branch 'drop-amount' drops a column."""
    repo = tmp_path / "registry"
    repo.mkdir()
    for part in ("teams", "ddl"):
        shutil.copytree(ROOT / part, repo / part)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "registry"], cwd=repo, check=True)
    subprocess.run(["git", "checkout", "-qb", "drop-amount"], cwd=repo, check=True)
    ddl = repo / "ddl/payments/transactions.sql"
    ddl.write_text(ddl.read_text().replace("  amount         DECIMAL(18,2) COMMENT 'Amount in the transaction currency',\n", ""))
    subprocess.run([*GIT, "commit", "-qam", "drop amount"], cwd=repo, check=True)
    return repo


def test_a_branch_dropping_a_column_fails_ci_naming_the_teams_it_breaks(repo: Path) -> None:
    result = run("diff", "main", "drop-amount", cwd=repo)
    assert result.returncode == 1, result.stderr
    assert ("ddl/payments/transactions.sql:2: BREAKING: payments.transactions: column amount dropped (or renamed)"
            in result.stdout)
    assert "reaches team risk (Sofia Rossi <sofia.rossi@example.com>" in result.stdout
    assert "reaches team business-intelligence (Noor Haddad <noor.haddad@example.com>" in result.stdout
    assert "Fix: raise 'mesh.version' (now 1)" in result.stdout


def test_json_for_bots_and_the_working_tree_as_head(repo: Path) -> None:
    result = run("diff", "main", "--format", "json", cwd=repo)  # head: the checked-out drop-amount branch
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["refused"] == 1 and report["breaking"] == 1
    [change] = report["changes"]
    assert change["table"] == "payments.transactions" and change["refused"] is True
    assert {r["team"] for r in change["reached"]} == {"payments", "risk", "business-intelligence"}


def test_raising_the_contract_version_lets_the_change_through(repo: Path) -> None:
    ddl = repo / "ddl/payments/transactions.sql"
    ddl.write_text(ddl.read_text().replace("  'mesh.access' = 'public',", "  'mesh.access' = 'public',\n  'mesh.version' = '2',"))
    result = run("diff", "main", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "breaking (mesh.version raised): payments.transactions: column amount dropped" in result.stdout


def test_compatible_changes_pass_and_folders_work_too(repo: Path, tmp_path: Path) -> None:
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)
    head = tmp_path / "head"
    shutil.copytree(repo, head, ignore=shutil.ignore_patterns(".git"))
    ddl = head / "ddl/payments/transactions.sql"
    ddl.write_text(ddl.read_text().replace("  hour ", "  fee            DECIMAL(18,2) COMMENT 'Fee',\n  hour "))
    result = run("diff", str(repo), str(head), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "compatible: payments.transactions: column fee added (DECIMAL(18, 2))" in result.stdout


def test_a_version_that_is_neither_a_ref_nor_a_folder_is_a_clear_error(repo: Path) -> None:
    result = run("diff", "origin/nope", cwd=repo)
    assert result.returncode == 2
    assert "'origin/nope' is neither a folder nor a commit" in result.stderr and "Fix:" in result.stderr


def test_an_invalid_head_registry_is_reported_not_diffed(repo: Path) -> None:
    (repo / "ddl/payments/transactions.sql").write_text("CREATE TABLE broken")
    result = run("diff", "main", cwd=repo)
    assert result.returncode == 2 and "the head registry (the working tree) is invalid" in result.stderr
