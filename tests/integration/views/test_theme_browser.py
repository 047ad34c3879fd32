"""The mesh pages follow Airflow's colour mode (next-themes: localStorage "theme", class on Airflow's <html>),
in headless Debian Chromium, inside Airflow's iframe."""

from __future__ import annotations

import re

import pytest
from conftest import plugin_frame, ui_login
from playwright.sync_api import expect

pytestmark = pytest.mark.usefixtures("airflow_db")
WAIT_MS = 60000


def luminance(css_colour: str) -> float:
    """0 (black) to 255 (white): the mean of an ``rgb(...)`` colour's channels."""
    r, g, b = (int(x) for x in re.findall(r"\d+", css_colour)[:3])
    return (r + g + b) / 3


def mesh_background(page, live_server: str) -> tuple[str, float]:
    frame = plugin_frame(page, f"{live_server}/plugin/mesh", timeout_ms=WAIT_MS)
    expect(frame.locator("#counts")).to_contain_text("16 tables", timeout=WAIT_MS)
    html_class = page.evaluate("document.documentElement.className")
    colour = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    return html_class, luminance(colour)


def test_dark_airflow_gives_dark_mesh_pages_and_light_stays_light(live_server, browser) -> None:
    page = ui_login(browser, live_server, "viewer", "viewer-pw")
    page.evaluate("localStorage.setItem('theme', 'dark')")   # what Airflow's own colour-mode switch stores
    html_class, light = mesh_background(page, live_server)
    assert "dark" in html_class.split()                       # Airflow itself went dark
    assert light < 60

    page.evaluate("localStorage.setItem('theme', 'light')")
    html_class, light = mesh_background(page, live_server)
    assert "light" in html_class.split()
    assert light > 200
