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
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_app

    return TestClient(create_app())


def token(role: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"a-{role}", role=role))


def test_mesh_api_requires_an_authenticated_user(client) -> None:
    assert client.get("/mesh/api/tables").status_code == 401
    assert client.get("/mesh/api/tables", headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)


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
