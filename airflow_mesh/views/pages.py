"""HTML pages of the plugin: static shells with their data embedded as JSON (no build step, no CDN)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=8)
def _template(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def base_of(request: Any) -> str:
    """Where the plugin's app is mounted (``/mesh``), for the links a page makes."""
    return request.scope.get("root_path", "").rstrip("/")


def render(name: str, base: str, data: Any) -> str:
    """Fill a page: ``__BASE__`` is where the app is mounted, ``__DATA__`` the page's JSON."""
    payload = json.dumps(data, default=str).replace("</", "<\\/")
    return _template(name).replace("__BASE__", base).replace("__DATA__", payload)
