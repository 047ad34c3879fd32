"""The plugin as Airflow loads it: listed by `airflow plugins`, its app mounted on the real API server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.usefixtures("airflow_db")


def json_output(stdout: str):
    """The JSON document an ``airflow ... -o json`` command printed, wherever it starts: Airflow may print
    log lines or warnings (which can contain brackets) before it."""
    decoder = json.JSONDecoder()
    lines = stdout.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("[", "{")):
            text = "".join(lines[i:]).strip()
            try:
                value, end = decoder.raw_decode(text)
            except json.JSONDecodeError:
                continue
            if not text[end:].strip():
                return value
    raise AssertionError(f"no JSON document in the output:\n{stdout[-2000:]}")


def test_json_output_skips_warnings_printed_before_the_document() -> None:
    noisy = '2026-11-24T05:13:55Z [warning  ] Using [httpx] is deprecated\n[{"name": "mesh"}]\n'
    assert json_output(noisy) == [{"name": "mesh"}]


def test_airflow_plugins_lists_the_mesh_plugin() -> None:
    proc = subprocess.run([sys.executable, "-m", "airflow", "plugins", "-o", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json_output(proc.stdout)}
    assert "mesh" in plugins
    assert "airflow_mesh.plugin:MeshPlugin" in json.dumps(plugins["mesh"])


@pytest.fixture(scope="module")
def client():
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app())


def token(role: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"a-{role}", role=role))


def test_mesh_api_requires_an_authenticated_user(client) -> None:
    assert client.get("/mesh/api/tables").status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    # the same answer as Airflow's own API gives a forged token
    assert client.get("/mesh/api/tables", headers=bad).status_code == client.get("/api/v2/dags", headers=bad).status_code == 403


@pytest.mark.parametrize("path", ["/mesh/openapi.json", "/mesh/docs", "/mesh/redoc"])
def test_api_description_needs_a_login(client, path) -> None:
    assert client.get(path).status_code == 401
    page = client.get(path, headers={"Authorization": f"Bearer {token('viewer')}"})
    assert page.status_code == 200
    assert "/api/backfills/plan" in page.text if path.endswith(".json") else "/mesh/openapi.json" in page.text


PLAN = {"roots": ["payments.fx_rates"], "start": "2026-08-03", "end": "2026-08-04", "downstream": False}


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer ", "Bearer    ", "bearer", "Basic YWRtaW46YWRtaW4=", "Token x"])
def test_csrf_guard_is_decided_by_the_credential_used_not_the_header(client, authorization) -> None:
    """An Authorization header that is no bearer token leaves the cookie as the credential: CSRF rules apply."""
    cookie = {"_token": token("admin")}
    forged = client.post("/mesh/api/backfills/plan", json=PLAN, cookies=cookie, headers={"Authorization": authorization})
    assert forged.status_code == 403 and "X-Requested-By" in forged.json()["detail"]
    same_site = client.post("/mesh/api/backfills/plan", json=PLAN, cookies=cookie,
                            headers={"Authorization": authorization, "X-Requested-By": "mesh-ui"})
    assert same_site.status_code == 200, same_site.text


def test_csrf_guard_spares_bearer_tokens_and_refuses_other_origins(client) -> None:
    bearer = client.post("/mesh/api/backfills/plan", json=PLAN, cookies={"_token": token("admin")},
                         headers={"Authorization": f"Bearer {token('admin')}"})
    assert bearer.status_code == 200, bearer.text
    cross = client.post("/mesh/api/backfills/plan", json=PLAN, cookies={"_token": token("admin")},
                        headers={"X-Requested-By": "x", "Origin": "https://evil.example", "Host": "testserver"})
    assert cross.status_code == 403 and "evil.example" in cross.json()["detail"]


def test_mesh_api_serves_tables_and_contracts(client) -> None:
    headers = {"Authorization": f"Bearer {token('viewer')}"}
    tables = client.get("/mesh/api/tables", headers=headers).json()
    by_name = {t["name"]: t for t in tables}
    assert by_name["risk.fraud_scores_daily"]["inputs"] == ["payments.transactions", "auth.logins"]
    assert "risk.fraud_scores_daily" in by_name["payments.transactions"]["consumers"]
    detail = client.get("/mesh/api/tables/payments.transactions", headers=headers).json()
    assert detail["owner_contact"] == "Ana Souza <ana.souza@example.com>"
    assert any(c["name"] == "amount" and c["comment"] for c in detail["columns"])
    missing = client.get("/mesh/api/tables/payments.nope", headers=headers)
    assert missing.status_code == 404 and "not defined" in missing.json()["detail"]
    # the cookie the Airflow UI sets authenticates the page embedded through external_views
    page = client.get("/mesh/", cookies={"_token": token("viewer")})
    assert page.status_code == 200 and "payments.transactions" in page.text


def test_airflow_lists_the_yarn_rm_connection_type() -> None:
    proc = subprocess.run([sys.executable, "-m", "airflow", "providers", "hooks", "-o", "json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    hooks = json_output(proc.stdout)
    yarn = [h for h in hooks if h["connection_type"] == "yarn_rm"]
    assert yarn and yarn[0]["class"] == "airflow_mesh.hooks.yarn_rm.YarnResourceManagerHook"
    assert yarn[0]["package_name"] == "airflow-mesh"


def broken_registry(tmp_path):
    """A copy of the example registry with one table contract missing its mesh properties."""
    import shutil

    from conftest import ROOT as root
    for part in ("teams", "ddl"):
        shutil.copytree(root / part, tmp_path / part)
    (tmp_path / "ddl" / "payments" / "broken.sql").write_text(
        "CREATE TABLE payments.broken (a INT COMMENT 'a')\nCOMMENT 'x';\n")
    return tmp_path


@pytest.mark.parametrize("path", ["/mesh/", "/mesh/backfill"])
def test_pages_of_an_invalid_registry_list_its_located_errors(client, tmp_path, monkeypatch, path) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__ROOT", str(broken_registry(tmp_path)))
    page = client.get(path, cookies={"_token": token("viewer")})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "ddl/payments/broken.sql:1: missing TBLPROPERTIES &#x27;mesh.producer&#x27;" in page.text
    assert "airflow-mesh validate" in page.text


def test_map_api_of_an_invalid_registry_answers_422_with_located_errors(client, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__ROOT", str(broken_registry(tmp_path)))
    answer = client.get("/mesh/api/map", headers={"Authorization": f"Bearer {token('viewer')}"})
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert {"file": "ddl/payments/broken.sql", "line": 1, "message": "missing TBLPROPERTIES 'mesh.producer'",
            "fix": "add 'mesh.producer' = '...' (see docs/registry.md)", "rule": ""} in errors


@pytest.mark.parametrize("path", ["/mesh/", "/mesh/backfill"])
def test_pages_without_a_registry_say_how_to_configure_one(client, monkeypatch, path) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__ROOT", "")  # empty counts as unset; the test home's airflow.cfg has none
    page = client.get(path, cookies={"_token": token("viewer")})
    assert page.status_code == 200
    assert "No mesh registry is configured" in page.text
    assert "set [mesh] root (AIRFLOW__MESH__ROOT)" in page.text


def test_json_routes_without_a_registry_answer_503_saying_how_to_configure_one(client, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__ROOT", "")
    auth = {"Authorization": f"Bearer {token('viewer')}"}
    for answer in (client.get("/mesh/api/map", headers=auth), client.get("/mesh/api/tables", headers=auth),
                   client.post("/mesh/api/backfills/plan", headers=auth, json=PLAN)):
        assert answer.status_code == 503
        assert "AIRFLOW__MESH__ROOT" in answer.json()["detail"]


def test_bodies_over_the_limit_are_refused_before_they_are_parsed(client) -> None:
    """A request body is bounded (64 KiB) whether its size is announced or streamed in chunks."""
    from airflow_mesh.views.limits import MAX_BODY_BYTES

    auth = {"Authorization": f"Bearer {token('viewer')}", "Content-Type": "application/json"}
    big = b'{"roots": [' + b'"payments.transactions",' * (MAX_BODY_BYTES // 20) + b'"x"], "start": "2026-08-03"}'
    announced = client.post("/mesh/api/backfills/plan", content=big, headers=auth)
    assert announced.status_code == 413 and "Fix:" in announced.json()["detail"]
    streamed = client.post("/mesh/api/backfills/plan", content=(big[i:i + 4096] for i in range(0, len(big), 4096)),
                           headers=auth)
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413 and "Fix:" in streamed.json()["detail"]
    small = client.post("/mesh/api/backfills/plan", json=PLAN, headers={"Authorization": auth["Authorization"]})
    assert small.status_code == 200, small.text
