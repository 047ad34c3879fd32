"""Reads ``teams/<team>.yaml`` into :class:`Team` models, with line numbers in every error."""

from __future__ import annotations

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


def _refuse_aliases(text: str, display: str) -> MeshError | None:
    """Anchors and aliases (and so merge keys) are refused: a few hundred bytes of ``<<: [*a, *a, ...]``
    expand exponentially (72 s and 1.6 GiB in PyYAML for 504 bytes). Team files never need them.

    Scanning the event stream is linear in the text and expands nothing.
    """
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark  # PyYAML's parser always sets it; the stubs allow None
            return MeshError(file=display, line=mark.line + 1 if mark is not None else 1,
                             message="YAML anchors and aliases (&, *, <<) are not allowed in team files",
                             fix="write the values out in full")
    return None


MAX_FLOW_DEPTH = 32  # a team file needs 3; PyYAML's time grows with the cube of flow nesting


def _too_deep(text: str, display: str) -> MeshError | None:
    """Refuse deeply nested ``[``/``{`` before PyYAML sees them: 2,000 levels (4 KB) take it 20 s.

    Counted without regard to quotes, so it errs on the side of refusing (no team file has 32 levels).
    """
    depth = 0
    for no, line in enumerate(text.splitlines(), start=1):
        for ch in line:
            if ch in "[{":
                depth += 1
                if depth > MAX_FLOW_DEPTH:
                    return MeshError(file=display, line=no, message=f"YAML nested deeper than {MAX_FLOW_DEPTH} levels",
                                     fix="a team file is a mapping of a few levels")
            elif ch in "]}":
                depth = max(0, depth - 1)
    return None


def _parse_yaml(text: str, display: str) -> tuple[yaml.Node | None, Any, MeshError | None]:
    """Compose once (the node tree locates errors) and construct from the same tree."""
    try:
        refused = _too_deep(text, display) or _refuse_aliases(text, display)
        if refused:
            return None, None, refused
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return None, None, MeshError(file=display, line=(mark.line + 1) if mark else 1,
                                     message=f"not valid YAML: {getattr(err, 'problem', None) or err}",
                                     fix="check indentation and quoting")
    except RecursionError:
        return None, None, MeshError(file=display, line=1, message="YAML nested too deeply",
                                     fix="a team file is a flat mapping of a few levels")
    return node, data, None


def load_team_text(text: str, display: str, stem: str) -> tuple[Team | None, list[MeshError]]:
    """Parse and validate one team file's text. Returns the team, or the errors that stop it."""
    node, data, error = _parse_yaml(text, display)
    if error:
        return None, [error]
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
    if team.name != stem:
        errors.append(MeshError(file=display, line=_line_of(node, ("name",)),
                                message=f"team name '{team.name}' differs from the file name '{stem}'",
                                fix=f"rename the file to {team.name}.yaml or set name: {stem}"))
        return None, errors
    return team, errors
