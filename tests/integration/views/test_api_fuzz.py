"""No route of the mesh answers malformed input with a server error (issue #12).

Every operation in the mesh app's own OpenAPI schema (so routes added later are fuzzed
without editing this file) gets malformed path values, query values and JSON bodies,
through the real API server app (``create_app()``, the mounted ``/mesh`` app) with a
real token. Each answer must be below 500, and a 4xx must say what is wrong (a JSON
``detail``). The TestClient re-raises unhandled exceptions, so a genuine bug fails the
test with its traceback; nothing here catches it.

Who asks: reads go as ``admin`` (everything is readable, so the handlers run to the
end); anything else as ``viewer``, whom Airflow lets read but not change runs, so a
fuzzed body can never clear or create runs in the session's shared metadata DB.
Bodies are built from the route's schema (its property names, plausible values, and
garbage) so some get past validation and reach the handler.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("airflow_db")
EXAMPLES = 25  # per route: well under a minute for the whole module

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=30),  # NaN and Infinity too: Python's JSON accepts them
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=10)
# Values a real client would send, so requests get past validation now and then: tables, DAGs, teams and
# times of the example mesh (changing routes are asked by a viewer: no run is ever touched).
PLAUSIBLE = st.sampled_from([
    "payments.transactions", "payments.fx_rates", "risk.fraud_scores_daily", "payments_hourly", "risk_daily.score",
    "payments", "risk", "2031-03-01", "2031-03-02T00:00:00Z", "1999-12-31", "9999-12-31T23:59:59+14:00",
    0, 1, -1, 2**31, True, [], {}, "", "~", "../../etc/passwd", "<script>", "\u2028", "\x00"])

# Valid values by JSON-schema type or format, tried before garbage.
TYPED = {"date-time": st.sampled_from(["2026-01-05", "2026-01-06T00:00:00Z", "2026-01-05T12:30:00+02:00"]),
         "string": st.sampled_from(["payments.transactions", "payments.fx_rates", "risk_daily", "payments"]),
         "integer": st.integers(min_value=-2, max_value=2**40), "boolean": st.booleans()}


@pytest.fixture(scope="module")
def mesh():
    """The real API server app, the mesh app it mounts, and the mesh app's OpenAPI operations."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient
    from starlette.routing import Mount

    app = create_app()
    mounted = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "/mesh")
    return TestClient(app), mounted.openapi()


def operations() -> list[tuple[str, str]]:
    """``(METHOD, path)`` of every operation the mesh app declares: read from the app, not listed here."""
    from airflow_mesh.views.app import create_mesh_app

    schema = create_mesh_app().openapi()
    return sorted((method.upper(), path) for path, ops in schema["paths"].items() for method in ops)


def token(user: str, role: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=user, role=role))


def resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` three times in four, else ``other``: enough valid parts that whole requests pass now and then."""
    return st.integers(0, 3).flatmap(lambda i: other if i == 0 else valid)


def near_valid(schema: dict, spec: dict, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped like ``schema`` (objects with its property names), mixed with garbage at every level."""
    schema = resolve(schema, spec)
    garbage = JSON | PLAUSIBLE
    if depth > 3:
        return garbage
    if schema.get("type") == "object" or "properties" in schema:
        fields = {name: near_valid(sub, spec, depth + 1) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", ()))
        shaped = st.fixed_dictionaries({k: v for k, v in fields.items() if k in required},
                                       optional={k: v for k, v in fields.items() if k not in required})
        extra = st.dictionaries(st.text(max_size=8), garbage, min_size=1, max_size=2)
        return mostly(mostly(shaped, st.tuples(shaped, extra).map(lambda p: {**p[1], **p[0]})), garbage)
    if schema.get("type") == "array":
        items = near_valid(schema.get("items", {}), spec, depth + 1)
        return mostly(st.lists(items, min_size=schema.get("minItems", 0), max_size=3), garbage)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return mostly(st.one_of([near_valid(s, spec, depth + 1) for s in schema[key]]), garbage)
    return mostly(TYPED.get(schema.get("format") or schema.get("type"), garbage), garbage)


# Python's JSON parser accepts these; echoing them back in a validation error must not break the answer.
NON_FINITE = [b'{"roots": [NaN], "start": Infinity, "end": -Infinity}', b"NaN", b'[Infinity]',
              b'{"request": {"roots": ["payments.fx_rates"], "start": NaN, "end": 1}, "confirm_runs": Infinity}']
DATES = ["2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z"]


def exemplar(schema: dict, spec: dict, dates: list[str]) -> Any:
    """A valid value of ``schema`` (required fields only): the starting point for one-part mutations."""
    schema = resolve(schema, spec)
    if "properties" in schema:
        return {k: exemplar(schema["properties"][k], spec, dates) for k in schema.get("required", ())}
    if schema.get("type") == "array":
        return [exemplar(schema.get("items", {}), spec, dates) for _ in range(max(1, schema.get("minItems", 0)))]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return exemplar(next(s for s in schema[key] if s.get("type") != "null"), spec, dates)
    if schema.get("format") == "date-time":
        return dates.pop(0) if dates else DATES[-1]  # successive fields get later times: end after start
    return {"string": "payments.fx_rates", "integer": 1, "number": 1.5, "boolean": False}.get(schema.get("type"))


@st.composite
def one_part_wrong(draw, schema: dict, spec: dict) -> Any:
    """A valid body with one part replaced by garbage (or an unknown key added): reaches deep validation."""
    body = exemplar(schema, spec, list(DATES))
    containers = [body]
    paths: list[tuple[Any, Any]] = []
    while containers:
        c = containers.pop()
        for key in (c.keys() if isinstance(c, dict) else range(len(c))) if isinstance(c, (dict, list)) else ():
            paths.append((c, key))
            containers.append(c[key])
    if not paths or draw(st.integers(0, 4)) == 0:
        if isinstance(body, dict):
            body[draw(st.text(min_size=1, max_size=8))] = draw(JSON)
        return body
    container, key = draw(st.sampled_from(paths))
    container[key] = draw(JSON | PLAUSIBLE)
    return body


@st.composite
def malformed_request(draw, method: str, path: str, spec: dict) -> dict:
    op = spec["paths"][path][method.lower()]
    url = path
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = draw(PLAUSIBLE.map(str) | st.integers().map(str) | st.text(min_size=1, max_size=40))
            url = url.replace("{" + param["name"] + "}", quote(value, safe=""))
    query = {p["name"]: draw(st.text(max_size=30) | PLAUSIBLE.map(str))
             for p in op.get("parameters", []) if p["in"] == "query" and draw(st.booleans())}
    query.update(draw(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=2)))
    request: dict = {"method": method, "url": "/mesh" + url, "params": query}
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body_schema is not None:
        shaped = st.one_of(near_valid(body_schema, spec), one_part_wrong(body_schema, spec),
                           st.just(exemplar(body_schema, spec, list(DATES))))
        body = draw(mostly(shaped.map(lambda v: json.dumps(v).encode()), st.one_of(
            st.binary(max_size=60),  # not JSON at all
            st.just(b""),
            st.just(b'{"roots": ["payments.transactions"], "start": '),  # cut short
            st.sampled_from(NON_FINITE),
        )))
        request.update(content=body, headers={"Content-Type": "application/json"})
    return request


@pytest.mark.parametrize("method,path", operations())
def test_malformed_requests_get_a_4xx_with_a_message_never_a_server_error(mesh, method, path) -> None:
    client, spec = mesh
    auth = {"Authorization": f"Bearer {token('fuzz-admin', 'admin') if method == 'GET' else token('fuzz-viewer', 'viewer')}"}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(malformed_request(method, path, spec))
    def check(request: dict) -> None:
        request["headers"] = {**request.get("headers", {}), **auth}
        answer = client.request(**request)
        assert answer.status_code < 500, (request, answer.status_code, answer.text[:500])
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/json"), (request, answer.text[:500])
            assert answer.json()["detail"], (request, answer.text[:500])

    check()


@pytest.mark.parametrize("method,path", [op for op in operations() if op[0] != "GET"])
@pytest.mark.parametrize("body", NON_FINITE)
def test_nan_and_infinity_in_a_body_get_a_422_not_a_server_error(mesh, method, path, body) -> None:
    """FastAPI's default handler echoed NaN/Infinity back and failed to encode its own 422 (a 500)."""
    client, _ = mesh
    answer = client.request(method, "/mesh" + path, content=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token('fuzz-viewer', 'viewer')}"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]
