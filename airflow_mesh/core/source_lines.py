"""Where a DAG file names its ``dag_id`` and ``task_id`` literals, so findings point at the line to edit.

The glue reads the file (:func:`airflow_mesh.governance.facts.source_lines`); the pure rules only look the
numbers up, so the core never touches the disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class SourceLines:
    """``{(key, value): line}`` of one DAG file, e.g. ``("task_id", "score_fraud") -> 27``."""

    lines: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def of(self, key: str, value: str) -> int:
        """The line of ``key="value"``; 1 when the file does not spell it literally."""
        return self.lines.get((key, value), 1)
