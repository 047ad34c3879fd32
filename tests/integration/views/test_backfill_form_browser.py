"""The backfill form inside Airflow's UI, in headless Debian Chromium: what a user types is what is planned.
Plans only (nothing executes); any dates."""

from __future__ import annotations

import pytest
from conftest import plugin_frame, ui_login
from playwright.sync_api import expect

pytestmark = pytest.mark.usefixtures("airflow_db")
WAIT_MS = 60000


def open_form(page, live_server: str):
    return plugin_frame(page, f"{live_server}/plugin/mesh-backfill", "#plan-btn", WAIT_MS)


def test_a_root_typed_but_not_added_is_planned_with_the_pickers_and_max_active_runs(live_server, browser) -> None:
    page = ui_login(browser, live_server, "viewer", "viewer-pw")
    frame = open_form(page, live_server)
    assert frame.locator("#start").get_attribute("type") == "datetime-local"
    frame.locator("#root-input").fill("payments.transactions")      # typed, "Add" not clicked
    frame.locator("#downstream").uncheck()
    frame.locator("#start").fill("2026-09-21T00:00")
    frame.locator("#end").fill("2026-09-21T03:00")
    frame.locator("#max_active_runs").fill("2")
    frame.locator("#plan-btn").click()
    expect(frame.locator("#plan-summary")).to_have_text("3 runs in 1 DAG", timeout=WAIT_MS)
    assert frame.locator("#roots-chips .root-chip").inner_text().startswith("payments.transactions")
    assert frame.locator("#root-input").input_value() == ""
    assert frame.locator("#plan-period").inner_text() == (
        "from 2026-09-21 00:00 UTC up to, not including, 2026-09-21 03:00 UTC")


def test_an_empty_form_says_what_to_give_not_the_validator(live_server, browser) -> None:
    page = ui_login(browser, live_server, "viewer", "viewer-pw")
    frame = open_form(page, live_server)
    frame.locator("#plan-btn").click()
    error = frame.locator("#plan-error")
    expect(error).to_have_text("Give at least one root (a table, a DAG id or dag_id.task_id), where the data starts, "
                               "where it ends.", timeout=WAIT_MS)
