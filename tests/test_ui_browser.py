"""The plugin's pages as a user meets them: logged in through Airflow's login page, opened from
Airflow's own navigation (external_views iframe), in headless Debian Chromium."""

from __future__ import annotations

from datetime import datetime

import pytest

from airflow_mesh.intervals import UTC
from conftest import ui_login

pytestmark = pytest.mark.usefixtures("airflow_db")


def plugin_frame(page):
    """The plugin page inside Airflow's UI: the iframe external_views renders at /plugin/<route>."""
    page.wait_for_selector("iframe", timeout=30000)
    return page.frame_locator("iframe").first


def test_mesh_map_from_airflow_nav_search_dictionary_and_run_state(live_server, browser) -> None:
    from airflow_mesh.seed import seed_runs

    seed_runs("payments_hourly", [datetime(2026, 11, 1, 5, tzinfo=UTC)])  # newest producer run: success

    page = ui_login(browser, live_server, "viewer", "viewer-pw")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Data mesh").click()
    page.wait_for_url("**/plugin/mesh")
    frame = plugin_frame(page)

    assert "4 teams · 16 tables" in frame.locator("#counts").inner_text()
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
    dictionary = frame.locator("#dictionary").inner_text()
    assert "amount" in dictionary and "merchant_id" in dictionary
    assert "Ana Souza" in frame.locator("#detail").inner_text()
