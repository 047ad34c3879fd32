"""Reads ``teams/<team>.yaml`` into :class:`Team` models, with line numbers in every error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from airflow_mesh.core.registry.models import MeshError, Team


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """Follow a pydantic error location through the YAML node tree to a 1-based line."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                match = next((k for k, _ in node.value if k.value == key), None)
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def load_team_file(path: Path, display: str) -> tuple[Team | None, list[MeshError]]:
    """Parse and validate one team file. Returns the team, or the errors that stop it."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return None, [MeshError(file=display, line=(mark.line + 1) if mark else 1,
                                message=f"not valid YAML: {getattr(err, 'problem', err)}",
                                fix="check indentation and quoting")]
    if not isinstance(data, dict):
        return None, [MeshError(file=display, line=1, message="a team file must be a YAML mapping",
                                fix="start with 'name: <team>'")]
    errors: list[MeshError] = []
    try:
        team = Team.model_validate(data)
    except ValidationError as err:
        for e in err.errors():
            loc = tuple(e["loc"])
            field = ".".join(str(p) for p in loc) or "(file)"
            if e["type"] == "extra_forbidden":
                msg, fix = f"unknown key '{field}'", "remove it or correct its spelling (see docs/registry.md)"
            elif e["type"] == "missing":
                msg, fix = f"missing required key '{field}'", f"add '{field}'"
            else:
                msg, fix = f"'{field}': {e['msg']}", "correct the value"
            errors.append(MeshError(file=display, line=_line_of(node, loc), message=msg, fix=fix))
        return None, errors
    if team.name != path.stem:
        errors.append(MeshError(file=display, line=_line_of(node, ("name",)),
                                message=f"team name '{team.name}' differs from the file name '{path.stem}'",
                                fix=f"rename the file to {team.name}.yaml or set name: {path.stem}"))
        return None, errors
    return team, errors
