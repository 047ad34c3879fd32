"""Team files: YAML that expands without bound is refused, a team defined twice is an error naming both files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLE_ROOT

from airflow_mesh.core.registry import validate_root
from airflow_mesh.core.registry.team_files import load_team_text


def billion_laughs(levels: int = 8) -> str:
    """~500 bytes that PyYAML's safe_load expands for over a minute and more than a GiB."""
    lines = ["name: risk", "x0: &x0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    for i in range(1, levels + 1):
        lines.append(f"x{i}: &x{i} {{<<: [{', '.join([f'*x{i - 1}'] * 8)}]}}")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(30)
def test_merge_key_bomb_is_refused_at_its_line() -> None:
    team, errors = load_team_text(billion_laughs(), "teams/risk.yaml", "risk")
    assert team is None
    assert [str(e) for e in errors] == [
        "teams/risk.yaml:2: YAML anchors and aliases (&, *, <<) are not allowed in team files. "
        "Fix: write the values out in full"]


def test_an_alias_without_anchor_syntax_is_still_refused() -> None:
    text = (EXAMPLE_ROOT / "teams" / "risk.yaml").read_text() + "description: &d x\nfoo: *d\n"
    _, errors = load_team_text(text, "teams/risk.yaml", "risk")
    assert len(errors) == 1 and "anchors and aliases" in errors[0].message


def test_unsafe_yaml_tags_are_a_located_error() -> None:
    _, errors = load_team_text("name: risk\ndescription: !!python/object/apply:os.system ['true']\n",
                               "teams/risk.yaml", "risk")
    assert len(errors) == 1 and errors[0].line == 2 and "not valid YAML" in errors[0].message


def test_yaml_and_yml_of_one_team_is_an_error_naming_both(mesh_copy: Path) -> None:
    yml = mesh_copy / "teams" / "payments.yml"
    yml.write_text((mesh_copy / "teams" / "payments.yaml").read_text().replace("ana.souza@", "someone.else@"))
    mesh, errors = validate_root(mesh_copy)
    assert mesh is None
    assert [str(e) for e in errors if "twice" in str(e)] == [
        "teams/payments.yml:1: team 'payments' is defined twice: teams/payments.yaml and teams/payments.yml. "
        "Fix: keep one of the two files"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("open_, close", [("[", "]"), ("{a: ", "}")])
def test_deep_flow_nesting_is_refused_before_yaml_parses_it(open_: str, close: str) -> None:
    # 20,000 levels fit in the size limit; PyYAML would take hours (cubic in the depth).
    team, errors = load_team_text("name: risk\ndescription: " + open_ * 20000 + close * 20000 + "\n",
                                  "teams/risk.yaml", "risk")
    assert team is None and [str(e) for e in errors] == [
        "teams/risk.yaml:2: YAML nested deeper than 32 levels. Fix: a team file is a mapping of a few levels"]


@pytest.mark.timeout(30)
def test_deep_block_nesting_within_the_size_limit_is_a_located_error() -> None:
    text = "name: risk\n" + "".join(f"{' ' * i}k{i}:\n" for i in range(350))
    assert len(text.encode()) < 64 * 1024
    team, errors = load_team_text(text, "teams/risk.yaml", "risk")
    assert team is None and errors and all(e.file == "teams/risk.yaml" for e in errors)
