"""The one transition table of a job, on its own: what each action allows from each status, and where it leads."""

from __future__ import annotations

import pytest

from airflow_mesh.backfill.models import FINAL, JobStatus
from airflow_mesh.backfill.transitions import TRANSITIONS, Action, target

S = JobStatus
ACTIVE = {s for s in JobStatus if s.active}


def test_every_action_has_a_row_and_only_known_statuses() -> None:
    assert set(TRANSITIONS) == set(Action)
    for row in TRANSITIONS.values():
        assert row and set(row) <= set(JobStatus) and set(row.values()) <= set(JobStatus)


def test_a_final_status_is_left_only_by_a_retry_of_a_failed_job() -> None:
    leaving = {(a, s) for a, row in TRANSITIONS.items() for s in row if s in FINAL}
    assert leaving == {(Action.RETRY, S.FAILED)}


def test_only_the_tick_and_the_end_of_a_cancel_or_a_hopeless_materialization_reach_a_final_status() -> None:
    reaching = {a for a, row in TRANSITIONS.items() for s, to in row.items() if to in FINAL and s not in FINAL}
    assert reaching == {Action.SUCCEED, Action.FAIL, Action.CANCELLED, Action.ABANDON}


def test_cancel_is_allowed_from_every_active_status_and_its_end_only_from_cancelling() -> None:
    assert dict(TRANSITIONS[Action.CANCEL]) == dict.fromkeys(ACTIVE, S.CANCELLING)
    assert dict(TRANSITIONS[Action.CANCELLED]) == {S.CANCELLING: S.CANCELLED}


@pytest.mark.parametrize("action", [Action.PAUSE, Action.RESUME, Action.RETRY, Action.CLAIM, Action.MATERIALIZED])
def test_nothing_but_its_end_follows_cancelling(action: Action) -> None:
    assert S.CANCELLING not in TRANSITIONS[action]


def test_a_job_that_would_run_while_paused_is_paused() -> None:
    assert target(Action.MATERIALIZED, S.MATERIALIZING, paused=True) is S.PAUSED
    assert target(Action.MATERIALIZED, S.MATERIALIZING, paused=False) is S.RUNNING
    assert target(Action.RETRY, S.FAILED, paused=True) is S.PAUSED
    assert target(Action.RESUME, S.PAUSED, paused=False) is S.RUNNING
    assert target(Action.PAUSE, S.RUNNING, paused=True) is S.PAUSED


@pytest.mark.parametrize(("action", "current"), [
    (Action.PAUSE, S.PAUSED), (Action.PAUSE, S.CANCELLED), (Action.RESUME, S.FAILED), (Action.RETRY, S.CANCELLED),
    (Action.RETRY, S.SUCCEEDED), (Action.RETRY, S.QUEUED), (Action.CLAIM, S.MATERIALIZING),
    (Action.SUCCEED, S.MATERIALIZING), (Action.INTERRUPT, S.RUNNING)])
def test_refused(action: Action, current: JobStatus) -> None:
    assert target(action, current, paused=False) is None


def test_pause_and_resume_keep_a_materialization_where_it_is() -> None:
    for s in (S.QUEUED, S.MATERIALIZING):
        assert target(Action.PAUSE, s, paused=True) is s and target(Action.RESUME, s, paused=False) is s
    assert target(Action.RESUME, S.INTERRUPTED, paused=False) is S.QUEUED
