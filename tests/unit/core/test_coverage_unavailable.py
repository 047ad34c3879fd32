"""What a consumer waits for when a producer's table starts after the consumer's period does
(``mesh.start_date``): the three ``on_unavailable`` answers the README promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import EXAMPLE_ROOT

from airflow_mesh.core.coverage import DataUnavailable, requirements_for
from airflow_mesh.core.intervals import Period
from airflow_mesh.core.registry import load_mesh

UTC = UTC


@pytest.fixture(scope="module")
def mesh():
    return load_mesh(EXAMPLE_ROOT)


def straddling_day(mesh) -> Period:
    """The UTC day whose second half is the first data of payments.transactions (hourly)."""
    start = mesh.table("payments.transactions").start_date
    assert start is not None, "the example's payments.transactions has a mesh.start_date"
    return Period(start - timedelta(hours=12), start + timedelta(hours=12))


@pytest.mark.parametrize("on_unavailable", ["fail", "skip"])
def test_fail_and_skip_refuse_to_wait_for_runs_that_can_never_exist(mesh, on_unavailable) -> None:
    with pytest.raises(DataUnavailable) as info:
        requirements_for(mesh, ["payments.transactions"], straddling_day(mesh), on_unavailable)
    message = str(info.value)
    assert "payments.transactions (team payments, contact Ana Souza <ana.souza@example.com>)" in message
    assert "has data only from" in message and "on_unavailable='partial'" in message


def test_partial_waits_only_for_the_runs_from_the_start_date_on(mesh) -> None:
    period = straddling_day(mesh)
    [req] = requirements_for(mesh, ["payments.transactions"], period, "partial")
    start = mesh.table("payments.transactions").start_date
    assert req.table == "payments.transactions" and req.period == period  # still judged for the whole period
    assert req.expected == 12  # only the 12 hourly runs that can exist
    assert req.first == start + timedelta(hours=1) and req.last == period.end


def test_a_period_after_the_start_date_needs_every_run(mesh) -> None:
    start = mesh.table("payments.transactions").start_date
    day = Period(start + timedelta(days=3), start + timedelta(days=4))
    for on_unavailable in ("fail", "skip", "partial"):
        [req] = requirements_for(mesh, ["payments.transactions"], day, on_unavailable)
        assert req.expected == 24


def test_an_unknown_answer_is_refused_naming_the_choices(mesh) -> None:
    with pytest.raises(ValueError, match="on_unavailable must be one of"):
        requirements_for(mesh, ["payments.transactions"], Period(datetime(2026, 3, 1, tzinfo=UTC),
                                                                  datetime(2026, 3, 2, tzinfo=UTC)), "wait")
