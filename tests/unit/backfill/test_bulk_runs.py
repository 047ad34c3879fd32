"""The IN-list cutting of the batched materialization (the DB side is in tests/integration/test_backfill_bulk_runs.py)."""

from __future__ import annotations

from airflow_mesh.backfill.bulk_runs import IN_LIST_SIZE, slices


def test_slices_keep_every_value_once_in_order_and_no_list_over_the_limit() -> None:
    values = list(range(2 * IN_LIST_SIZE + 1))
    parts = slices(values)
    assert [len(p) for p in parts] == [IN_LIST_SIZE, IN_LIST_SIZE, 1]
    assert [v for p in parts for v in p] == values
    assert slices([]) == []
    assert slices([1, 2, 3], size=2) == [[1, 2], [3]]
