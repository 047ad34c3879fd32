"""The backfill job page inside Airflow's UI (the external_views iframe), in headless Debian Chromium:
links into Airflow land on Airflow's own pages, steering follows the user's rights, the figures say how
fresh they are. Dates in May 2026 belong to this module."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from conftest import plugin_frame, ui_login
from playwright.sync_api import expect

from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.core.intervals import UTC
from airflow_mesh.settings import configured_mesh

pytestmark = pytest.mark.usefixtures("airflow_db", "mesh_jobs")
NOW = datetime(2026, 11, 23, 19, tzinfo=UTC)  # the planner's "now": no verdict depends on the calendar
WAIT_MS = 60000  # Airflow's React UI is slow on a loaded 2-core box
STALE = re.compile(r"\bstale\b")


def job_with_a_failed_task(day: int) -> tuple[int, str, str]:
    """A materialized job over three hours of ``payments_hourly`` on May ``day``, one of its task instances
    failed. Returns the job id, the failed task's run id and task id."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_mesh.backfill import jobs
    from airflow_mesh.backfill.materialize import materialize_next

    req = BackfillRequest(roots=["payments_hourly"], start=datetime(2026, 5, day, 1, tzinfo=UTC),
                          end=datetime(2026, 5, day, 4, tzinfo=UTC), downstream=False)
    job_id = jobs.submit(req.plan(configured_mesh(), NOW), req, "admin").id
    materialize_next(job_id=job_id)  # the live server's own materializer may have claimed it first: either is fine
    with create_session() as s:
        backfill_id = jobs.get_job(s, job_id)["dags"][0]["backfill_id"]
        ti = s.scalars(select(TI).join(DagRun, (DagRun.dag_id == TI.dag_id) & (DagRun.run_id == TI.run_id))
                       .where(DagRun.backfill_id == backfill_id).order_by(TI.run_id, TI.task_id).limit(1)).one()
        ti.state = "failed"
        return job_id, ti.run_id, ti.task_id


def open_job(page, live_server: str, job_id: int):
    """The job page where Airflow shows it: its plugin route, the mesh page in the sandboxed iframe."""
    return plugin_frame(page, f"{live_server}/plugin/mesh-backfill/mesh/backfill/{job_id}", "#status", WAIT_MS)


def test_dag_and_task_instance_links_land_on_airflows_own_pages(live_server, browser) -> None:
    job_id, run_id, task_id = job_with_a_failed_task(11)
    page = ui_login(browser, live_server, "admin", "admin-pw")
    frame = open_job(page, live_server, job_id)

    frame.locator("#progress a", has_text="payments_hourly").click()
    page.wait_for_url(f"{live_server}/dags/payments_hourly", timeout=WAIT_MS)
    expect(page.locator("iframe")).to_have_count(0, timeout=WAIT_MS)       # Airflow's page, not the plugin's
    expect(page.get_by_text("payments_hourly").first).to_be_visible(timeout=WAIT_MS)

    page.go_back()   # Airflow's history has the job page before it: Back returns there
    page.wait_for_url(f"{live_server}/plugin/mesh-backfill/mesh/backfill/{job_id}", timeout=WAIT_MS)
    frame = page.frame_locator("iframe").first
    link = frame.locator("#failing a").first
    expect(link).to_contain_text(task_id, timeout=WAIT_MS)
    link.click()
    page.wait_for_url(lambda u: u.startswith(f"{live_server}/dags/payments_hourly/runs/")
                      and u.endswith(f"/tasks/{task_id}"), timeout=WAIT_MS)
    expect(page.locator("iframe")).to_have_count(0, timeout=WAIT_MS)
    expect(page.get_by_text(task_id).first).to_be_visible(timeout=WAIT_MS)
    assert run_id in page.url.replace("%3A", ":").replace("%2B", "+")


def test_a_viewer_sees_pause_and_cancel_disabled_with_the_reason_an_admin_pauses(live_server, browser) -> None:
    job_id, _, _ = job_with_a_failed_task(12)
    page = ui_login(browser, live_server, "viewer", "viewer-pw")
    frame = open_job(page, live_server, job_id)
    expect(frame.locator("#status")).to_have_text("running", timeout=WAIT_MS)
    for button in ("#pause-btn", "#cancel-btn", "#retry-btn"):
        expect(frame.locator(button)).to_be_visible()
        expect(frame.locator(button)).to_be_disabled()
    assert frame.locator("#steer-note").inner_text() == (
        "Read only: you may not pause, resume, retry or cancel runs of payments_hourly.")
    assert "payments_hourly" in frame.locator("#pause-btn").get_attribute("title")

    admin = ui_login(browser, live_server, "admin", "admin-pw")
    frame = open_job(admin, live_server, job_id)
    expect(frame.locator("#pause-btn")).to_be_enabled(timeout=WAIT_MS)
    assert frame.locator("#steer-note").inner_text() == ""
    frame.locator("#pause-btn").click()
    expect(frame.locator("#status")).to_have_text("paused", timeout=WAIT_MS)
    expect(frame.locator("#status")).to_have_class("state paused")   # its own colour, not running's blue


def test_figures_say_when_they_were_refreshed_and_go_stale_visibly_when_the_api_fails(live_server, browser) -> None:
    job_id, _, _ = job_with_a_failed_task(13)
    page = ui_login(browser, live_server, "admin", "admin-pw")
    frame = open_job(page, live_server, job_id)
    freshness = frame.locator("#freshness")
    expect(freshness).to_contain_text("updated ", timeout=WAIT_MS)
    expect(freshness).not_to_have_class(STALE)

    page.route(f"**/mesh/api/backfills/{job_id}", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"detail": "database is locked"}'))
    expect(freshness).to_have_class(STALE, timeout=WAIT_MS)
    expect(freshness).to_contain_text("stale, retrying", timeout=WAIT_MS)
    expect(freshness).to_contain_text("database is locked")
    expect(frame.locator("#status")).to_have_text("running")          # the last figures stay

    page.unroute(f"**/mesh/api/backfills/{job_id}")
    expect(freshness).not_to_have_class(STALE, timeout=WAIT_MS)   # the next poll answers again
    expect(freshness).to_contain_text("updated ")
