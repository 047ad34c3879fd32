"""The dry run's summary as an execute request sends it back: typed, so a malformed one is a 422, not a 500.

It only explains a fingerprint mismatch (what changed since the dry run); the fingerprint alone decides.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DagSummary(BaseModel):
    """One DAG of the plan: its run count and ranges ``[first, last, count]``."""

    model_config = ConfigDict(extra="ignore")

    runs: int | None = None
    ranges: list[tuple[str, str, int]] = Field(default_factory=list)


class PlanSummary(BaseModel):
    """What the user confirmed: the request's fields, each DAG's runs, the total (all optional: older clients)."""

    model_config = ConfigDict(extra="ignore")

    request: dict[str, Any] = Field(default_factory=dict)
    dags: dict[str, DagSummary] = Field(default_factory=dict)
    runs: int | None = None


def summary_changes(seen: PlanSummary | None, current: dict) -> list[str]:
    """Human list of what differs between the plan the user saw and the plan now (``current``: ``plan_summary``)."""
    if seen is None:
        return ["the plan differs from the one confirmed (no summary was sent to say how)"]
    out = [f"{key}: {seen.request.get(key)!r} -> {current['request'].get(key)!r}"
           for key in sorted(set(seen.request) | set(current["request"]))
           if seen.request.get(key) != current["request"].get(key)]
    old, new = seen.dags, {d: DagSummary.model_validate(v) for d, v in current["dags"].items()}
    out += [f"DAG {d} added ({new[d].runs} runs)" for d in sorted(set(new) - set(old))]
    out += [f"DAG {d} left the plan" for d in sorted(set(old) - set(new))]
    out += [f"DAG {d}: {old[d].runs} -> {new[d].runs} runs" for d in sorted(set(old) & set(new)) if old[d] != new[d]]
    return out or ["the plan differs from the one confirmed"]
