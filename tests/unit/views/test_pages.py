"""Pages embed their data as JSON inside <script>: no string may end or bend that element (issue #12)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_mesh.views.pages import json_for_html, render, render_problem

HOSTILE = "<!--<script></script><b>&amp;\u2028\u2029 -->"


def test_json_for_html_leaves_no_character_an_html_parser_acts_on() -> None:
    out = json_for_html({"comment": HOSTILE, HOSTILE: [HOSTILE]})
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in out
    assert "\\u003c!--\\u003cscript\\u003e" in out
    assert json.loads(out) == {"comment": HOSTILE, HOSTILE: [HOSTILE]}


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
                    max_leaves=12))
def test_json_for_html_round_trips_any_document(data) -> None:
    out = json_for_html(data)
    assert json.loads(out) == data
    assert not set(out) & {"<", ">", "&", "\u2028", "\u2029"}


def test_render_puts_the_escaped_data_in_the_page_once() -> None:
    page = render("map.html", "/mesh", {"tables": [{"comment": HOSTILE}]})
    island = page.split('<script id="mesh-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(island) == {"tables": [{"comment": HOSTILE}]}
    assert "__DATA__" not in page and "__BASE__" not in page


def test_problem_page_escapes_the_messages_it_quotes() -> None:
    page = render_problem("/mesh", "The mesh registry has 1 error(s)",
                          ["ddl/x.sql:3: <script>alert(1)</script> __FIX__"], "Fix: <b>it</b>")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; __FIX__" in page
    assert "Fix: &lt;b&gt;it&lt;/b&gt;" in page
