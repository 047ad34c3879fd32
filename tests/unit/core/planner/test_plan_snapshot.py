"""No answer of the backfill planner changed (issue #15): its whole output equals the stored snapshot.

``planner_snapshot.json`` was written by ``planner_snapshot.py`` from the planner before it was
made faster; this test plans the same backfills with the current code and compares everything a
caller can observe (see :func:`planner_snapshot.observe`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from planner_snapshot import SNAPSHOT, cases, digest, summary

EXPECTED = json.loads(SNAPSHOT.read_text())["cases"]


@pytest.fixture(scope="module")
def observed_plans() -> dict[str, dict[str, Any]]:
    """Every case planned once by the current code (a few hundred plans on small meshes: seconds)."""
    return dict(cases())


def test_snapshot_covers_the_same_cases(observed_plans: dict[str, dict[str, Any]]) -> None:
    assert sorted(observed_plans) == sorted(EXPECTED)


@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_plan_equals_snapshot(label: str, observed_plans: dict[str, dict[str, Any]]) -> None:
    observed, expected = observed_plans[label], EXPECTED[label]
    if "full" in expected:
        assert observed == expected["full"]
    else:
        assert (summary(observed), digest(observed)) == (expected["summary"], expected["sha256"])
