"""The dry run names an active job or backfill only to users who may read every one of its DAGs."""

from airflow_mesh.backfill.jobs import overlap_message
from airflow_mesh.backfill.service import _redact_overlap

BUSY = [{"name": "mesh job #7", "kind": "mesh", "id": 7, "dags": ["payments_daily", "bi_daily"]},
        {"name": "Airflow backfill #3", "kind": "airflow", "id": 3, "dags": ["bi_daily"]}]


def test_a_job_on_an_unreadable_dag_is_shown_without_its_id_or_that_dag() -> None:
    out = _redact_overlap(BUSY, hidden={"payments_daily"})
    assert out[0] == {"name": "a backfill on DAGs you may not read", "kind": "mesh", "id": None,
                      "dags": ["bi_daily"], "hidden_dags": 1}
    assert out[1] == BUSY[1]
    assert "payments_daily" not in overlap_message(out) and "#7" not in overlap_message(out)


def test_a_job_wholly_on_unreadable_dags_still_blocks_and_says_so() -> None:
    out = _redact_overlap(BUSY[:1], hidden={"payments_daily", "bi_daily"})
    assert overlap_message(out) == ("a backfill on DAGs you may not read is active: "
                                    "wait for it to finish, or cancel it, then plan again")


def test_a_job_with_an_unreadable_dag_outside_the_plan_is_not_named_either() -> None:
    """The overlap lists only the plan's DAGs; the job's others decide too (the user gets 404 for the job)."""
    busy = [{"name": "mesh job #1", "kind": "mesh", "id": 1, "dags": ["bi_hourly"]}]
    out = _redact_overlap(busy, hidden={"payments_hourly"}, whole={1: ["payments_hourly", "bi_hourly"]})
    assert out == [{"name": "a backfill on DAGs you may not read", "kind": "mesh", "id": None,
                    "dags": ["bi_hourly"], "hidden_dags": 0}]
    assert "#1" not in overlap_message(out) and "payments" not in overlap_message(out)
    assert _redact_overlap(busy, hidden=set(), whole={1: ["payments_hourly", "bi_hourly"]}) == busy
