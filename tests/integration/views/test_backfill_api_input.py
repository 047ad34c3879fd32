"""Bad input to the backfill API answers 4xx with a ``detail``, never 500 (issue #28), through the real API server
app. Dates in February 2026 (payments_daily only) belong to this module."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("airflow_db", "mesh_jobs")
REQUEST = {"roots": ["payments_daily.build_settlements"], "start": "2026-02-02", "end": "2026-02-04",
           "downstream": False}


@pytest.fixture(scope="module")
def client():
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app())


def bearer(role: str) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"{role}-input", role=role))
    return {"Authorization": f"Bearer {token}"}


def refused(response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail
    return str(detail)


def test_json_nested_deeper_than_the_recursion_limit_is_refused_with_a_message(client) -> None:
    deep = "[" * 600 + "]" * 600
    body = '{"roots": ' + deep + ', "start": "2026-02-02", "end": "2026-02-04"}'
    r = client.post("/mesh/api/backfills/plan", content=body,
                    headers={**bearer("viewer"), "Content-Type": "application/json"})
    assert r.status_code < 500
    refused(r, r.status_code)


@pytest.mark.parametrize("date", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("field", ["start", "end"])
def test_dates_whose_utc_conversion_overflows_are_refused_on_plan_and_execute(client, date: str, field: str) -> None:
    req = {**REQUEST, field: date}
    assert "outside" in refused(client.post("/mesh/api/backfills/plan", json=req, headers=bearer("viewer")))
    body = {"request": req, "fingerprint": "0" * 64}
    assert "outside" in refused(client.post("/mesh/api/backfills", json=body, headers=bearer("admin")))


@pytest.mark.parametrize("summary", [{"request": "x"}, {"request": 5}, {"request": [{}]},
                                     {"dags": {"payments_daily": 5}}, {"dags": ["payments_daily"]}])
def test_execute_with_a_wrong_fingerprint_and_a_malformed_summary_is_refused(client, summary: dict) -> None:
    body = {"request": REQUEST, "fingerprint": "0" * 64, "summary": summary}
    refused(client.post("/mesh/api/backfills", json=body, headers=bearer("admin")))


def test_execute_with_a_wrong_fingerprint_and_a_partial_summary_says_what_changed(client) -> None:
    plan = client.post("/mesh/api/backfills/plan", json=REQUEST, headers=bearer("admin")).json()
    summary = {**plan["summary"], "dags": {}}
    r = client.post("/mesh/api/backfills", json={"request": REQUEST, "fingerprint": "0" * 64, "summary": summary},
                    headers=bearer("admin"))
    assert r.status_code == 409, r.text
    assert "DAG payments_daily added (2 runs)" in r.json()["detail"]["changes"]


def test_history_limit_is_1_to_1000_as_documented(client) -> None:
    assert client.get("/mesh/api/backfills?limit=1000", headers=bearer("viewer")).status_code == 200
    refused(client.get("/mesh/api/backfills?limit=1001", headers=bearer("viewer")))
    refused(client.get("/mesh/api/backfills?limit=0", headers=bearer("viewer")))
