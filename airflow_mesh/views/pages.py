"""HTML pages of the plugin: static shells with their data embedded as JSON (no build step, no CDN)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"

# Characters that must not appear literally in JSON inside an HTML <script> element: "<" starts
# "</script>" and "<!--" (which switches the tokenizer into the escaped-script states and cuts the
# data island), ">" and "&" are escaped too as the usual belt-and-braces, and U+2028/U+2029 are
# line terminators to older JavaScript parsers. JSON's \\uXXXX escapes decode to the same text.
_JSON_IN_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                               "\u2028": "\\u2028", "\u2029": "\\u2029"})


@lru_cache(maxsize=8)
def _template(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def base_of(request: Any) -> str:
    """Where the plugin's app is mounted (``/mesh``), for the links a page makes."""
    return request.scope.get("root_path", "").rstrip("/")


def json_for_html(data: Any) -> str:
    """``data`` as JSON that is safe inside an HTML ``<script>`` element, whatever its strings hold."""
    return json.dumps(data, default=str).translate(_JSON_IN_HTML)


def render(name: str, base: str, data: Any) -> str:
    """Fill a page: ``__BASE__`` is where the app is mounted, ``__DATA__`` the page's JSON."""
    return _template(name).replace("__BASE__", base).replace("__DATA__", json_for_html(data))


def render_problem(base: str, title: str, lines: Iterable[str], fix: str) -> str:
    """A page that says why the mesh cannot show itself and what to do, instead of a bare error.

    Rendered on the server with every text escaped: the messages quote registry files,
    which anyone who can open a pull request on the registry writes.
    """
    values = {"BASE": base, "TITLE": html.escape(title), "FIX": html.escape(fix),
              "ITEMS": "".join(f"<li><code>{html.escape(line)}</code></li>" for line in lines)}
    # one pass, so a message quoting "__FIX__" stays text
    return re.sub(r"__(BASE|TITLE|ITEMS|FIX)__", lambda m: values[m.group(1)], _template("problem.html"))
