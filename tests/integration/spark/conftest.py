"""One real local YARN (Hadoop's MiniYARNCluster, ``scripts/local_yarn.py``) for the whole test session.

Started on first use and stopped at the end of the session, which must leave no JVM behind. Each test that
uses it gets the worker's view through ``real_yarn``: HADOOP_CONF_DIR, PYSPARK_ARCHIVES_PATH, the cluster's
``yarn`` CLI on PATH, and the ``mesh_spark`` / ``yarn_rm_default`` connections pointing at it (undone after
the test, so other modules keep their local[1] Spark and their simulator).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest


class RealYarn:
    """The session's cluster, plus the RM REST calls tests assert on (the RM's own answers)."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.url = cluster.rm_url

    def app(self, app_id: str) -> dict:
        r = httpx.get(f"{self.url}/ws/v1/cluster/apps/{app_id}", timeout=10)
        if r.status_code == 404:
            return {}
        r.raise_for_status()
        return r.json()["app"]

    def apps_with_tag(self, tag: str) -> list[dict]:
        r = httpx.get(f"{self.url}/ws/v1/cluster/apps", params={"applicationTags": tag}, timeout=10)
        r.raise_for_status()
        return ((r.json() or {}).get("apps") or {}).get("app") or []

    def attempts(self, app_id: str) -> list[dict]:
        r = httpx.get(f"{self.url}/ws/v1/cluster/apps/{app_id}/appattempts", timeout=10)
        r.raise_for_status()
        return r.json()["appAttempts"]["appAttempt"]

    def wait_terminal(self, app_id: str, timeout: float = 180) -> dict:
        """The application's report once it is terminal (bounded; polls the RM once a second)."""
        deadline = time.monotonic() + timeout
        while True:
            app = self.app(app_id)
            if app.get("state") in ("FINISHED", "FAILED", "KILLED") or time.monotonic() > deadline:
                return app
            time.sleep(1)

    def kill(self, app_id: str) -> None:
        httpx.put(f"{self.url}/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"}, timeout=10)


@pytest.fixture(scope="session")
def local_yarn() -> Iterator[RealYarn]:
    from local_yarn import LocalYarn

    cluster = LocalYarn()
    cluster.start()
    try:
        yield RealYarn(cluster)
    finally:
        killed_by_hand = cluster.stop()
        pid_gone = cluster.cluster_dir is not None and not LocalYarn.processes_in(str(cluster.cluster_dir.resolve()))
        assert pid_gone, "processes of the local YARN survived its stop"
        assert killed_by_hand == [], f"container processes outlived the NodeManager: {killed_by_hand}"


@pytest.fixture()
def real_yarn(local_yarn: RealYarn, monkeypatch: pytest.MonkeyPatch) -> RealYarn:
    cluster = local_yarn.cluster
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AIRFLOW_CONN_MESH_SPARK", json.dumps(cluster.spark_connection()))
    monkeypatch.setenv("AIRFLOW_CONN_YARN_RM_DEFAULT", json.dumps(cluster.rm_connection()))
    return local_yarn
