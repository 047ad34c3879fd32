"""The plugin's pages as a user meets them: logged in through Airflow's login page, opened from
Airflow's own navigation (external_views iframe), in headless Debian Chromium."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from conftest import plugin_frame, ui_login

from airflow_mesh.core.intervals import UTC

pytestmark = pytest.mark.usefixtures("airflow_db")
SHOTS = Path(os.environ["AIRFLOW_HOME"]) / "screenshots"
SHOTS.mkdir(exist_ok=True)


def test_mesh_map_from_airflow_nav_search_dictionary_and_run_state(live_server, browser) -> None:
    from seed import seed_runs

    seed_runs("payments_hourly", [datetime(2026, 11, 1, 5, tzinfo=UTC)])  # newest producer run: success

    page = ui_login(browser, live_server, "viewer", "viewer-pw")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Data mesh").click()
    page.wait_for_url("**/plugin/mesh")
    frame = plugin_frame(page, timeout_ms=30000)

    from playwright.sync_api import expect

    expect(frame.locator("#counts")).to_contain_text("4 teams · 16 tables", timeout=30000)  # once the page's script ran
    assert frame.locator("g.node").count() == 16
    assert frame.locator("g.node.private").count() == 3

    # Search reaches into the data dictionary: a column comment, not a table name.
    frame.locator("#search").fill("units of eur")
    visible = [n.get_attribute("data-id") for n in frame.locator("g.node:not(.dim)").all()]
    assert visible == ["payments.fx_rates"]
    frame.locator("#search").fill("")

    frame.locator("g.node[data-id='payments.transactions']").click()
    assert frame.locator("#detail-name").inner_text() == "payments.transactions"
    assert "success" in frame.locator("#detail-state").inner_text()
    assert "2026-11-01T05:00:00+00:00" in frame.locator("#detail-state").inner_text()
    # the data the run covers first (an hourly trigger run: the hour before its logical date)
    assert frame.locator("#detail-period").inner_text() == (
        "data from 2026-11-01 04:00 UTC up to, not including, 2026-11-01 05:00 UTC")
    dictionary = frame.locator("#dictionary").inner_text()
    assert "amount" in dictionary and "merchant_id" in dictionary
    assert "Ana Souza" in frame.locator("#detail").inner_text()


HOSTILE_COMMENT = "Daily FX rates. &amp; \u2028 <!--<script>"


def test_mesh_map_shows_every_table_when_a_comment_holds_html(live_server, browser, tmp_path, monkeypatch) -> None:
    """A table COMMENT with ``<!--<script>`` used to cut the page's JSON data island: 0 nodes (issue #12)."""
    import shutil

    from conftest import ROOT as root
    for part in ("teams", "ddl"):
        shutil.copytree(root / part, tmp_path / part)
    contract = tmp_path / "ddl" / "payments" / "fx_rates.sql"
    text = contract.read_text()
    assert "COMMENT 'Daily reference FX rates to EUR.'" in text
    contract.write_text(text.replace("COMMENT 'Daily reference FX rates to EUR.'", f"COMMENT '{HOSTILE_COMMENT}'"))
    monkeypatch.setenv("AIRFLOW__MESH__ROOT", str(tmp_path))  # the live server runs in this process

    page = ui_login(browser, live_server, "viewer", "viewer-pw")
    page.goto(f"{live_server}/mesh/")  # returns after the load event: the page's inline scripts have run
    assert page.locator("g.node").count() == 16
    page.locator("g.node[data-id='payments.fx_rates']").click()
    assert HOSTILE_COMMENT in page.locator("#detail").inner_text()


def open_backfill(page, live_server: str, via_nav: bool = False):
    """The backfill page inside Airflow's UI: through the Browse menu (the nav entry users click), or at its
    URL (where the nav is not the point: the menu's animation made navigation flaky on a loaded 2-core box)."""
    if via_nav:
        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="Mesh backfill").click()
        page.wait_for_url("**/plugin/mesh-backfill", timeout=90000)   # Airflow's React UI is slow on a loaded box
    else:
        page.goto(f"{live_server}/plugin/mesh-backfill")
    return plugin_frame(page, timeout_ms=30000)


def fill_week(frame, start: str, end: str) -> None:
    frame.locator("#root-input").fill("payments.transactions")
    frame.locator("#add-root").click()
    frame.locator("#start").fill(f"{start}T00:00")   # <input type=datetime-local>
    frame.locator("#end").fill(f"{end}T00:00")
    frame.locator("#plan-btn").click()
    frame.locator("#plan-summary").wait_for(timeout=30000)


def test_viewer_can_plan_but_not_execute(live_server, browser, mesh_jobs) -> None:
    page = ui_login(browser, live_server, "viewer", "viewer-pw")
    frame = open_backfill(page, live_server)
    fill_week(frame, "2026-09-21", "2026-09-28")
    assert "You may not edit" in frame.locator("#permission").inner_text()
    assert frame.locator("#execute-btn").is_disabled()


def test_backfill_a_week_of_hourly_data_from_the_nav_plan_execute_watch_pause_resume_cancel(live_server, browser,
                                                                                             mesh_jobs) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    page = ui_login(browser, live_server, "admin", "admin-pw")
    frame = open_backfill(page, live_server, via_nav=True)
    fill_week(frame, "2026-09-07", "2026-09-14")

    summary = frame.locator("#plan-summary").inner_text()
    rows = {r.get_attribute("data-dag"): r for r in frame.locator("#plan-table tr[data-dag]").all()}
    runs = {dag: int(r.locator("td.runs").inner_text().replace(",", "")) for dag, r in rows.items()}
    assert runs["payments_hourly"] == 168 and runs["payments_daily"] == 7
    assert runs["risk_weekly"] == 2 and runs["bi_weekly"] == 2 and runs["bi_monthly"] == 1  # Oct 1 covers September
    total = sum(runs.values())
    assert summary == f"{total:,} runs in {len(runs)} DAGs"
    assert frame.locator("#plan-graph g.node").count() == len(runs)
    assert "You may execute" in frame.locator("#permission").inner_text()
    page.screenshot(path=str(SHOTS / "backfill-plan.png"))

    frame.locator("#execute-btn").click()
    assert frame.locator("#confirm-text").inner_text() == (
        "Execute a backfill of payments.transactions for [2026-09-07T00:00, 2026-09-14T00:00) (all downstream): "
        f"{total} runs in {len(runs)} DAGs? Finished runs have their planned tasks cleared and re-run, missing runs "
        "are created, queued or running runs are skipped.")
    frame.locator("#confirm-yes").click()
    frame.locator("#status").wait_for(timeout=30000)   # the job page shows the job at once
    frame.locator("#materialized", has_text=f"{total:,} of {total:,} runs materialized").wait_for(timeout=60000)
    frame.locator("#status", has_text="running").wait_for(timeout=30000)
    page.screenshot(path=str(SHOTS / "backfill-progress.png"))
    assert frame.locator("#done").inner_text() == f"0 of {total}"
    assert frame.locator("#progress tr[data-dag]").count() == len(runs)
    assert frame.locator("#progress tr[data-dag=payments_hourly] td.queued").inner_text() == "168"
    with create_session() as s:
        created = dict(s.execute(select(DagRun.dag_id, func.count()).where(
            DagRun.run_type == "backfill", DagRun.logical_date >= datetime(2026, 9, 7, tzinfo=UTC),
            DagRun.logical_date <= datetime(2026, 10, 1, 1, tzinfo=UTC))
            .group_by(DagRun.dag_id)).all())
    assert created["payments_hourly"] == 168 and created["risk_weekly"] == 2

    frame.locator("#pause-btn").click()
    frame.locator("#status", has_text="paused").wait_for(timeout=30000)
    frame.locator("#resume-btn").click()
    frame.locator("#status", has_text="running").wait_for(timeout=30000)
    frame.locator("#cancel-btn").click()
    frame.locator("#status", has_text="cancelled").wait_for(timeout=60000)
    what = frame.locator("#what").inner_text()
    assert "cancelled by admin" in what
    assert "[2026-09-07 00:00 UTC, 2026-09-14 00:00 UTC)" in what  # times a person reads at a glance
    assert frame.locator("#progress tr[data-dag=payments_hourly] td.queued").inner_text() == "0"


def test_a_changed_form_cannot_execute_the_old_plan(live_server, browser, mesh_jobs) -> None:
    page = ui_login(browser, live_server, "admin", "admin-pw")
    frame = open_backfill(page, live_server)
    fill_week(frame, "2026-09-21", "2026-09-28")
    assert frame.locator("#execute-btn").is_enabled()
    frame.locator("#end").fill("2026-09-29T00:00")
    assert frame.locator("#execute-btn").is_disabled()
    assert "The form changed: plan again" in frame.locator("#stale").inner_text()
