"""The cancel's own kill of Spark applications: every live application of a stopped task by its tag, never a
finished one, and bounded when the RM or its connection is missing (the cancel runs inside an API request)."""

from __future__ import annotations

from airflow_mesh.backfill import spark_apps
from airflow_mesh.backfill.spark_apps import SparkTarget, kill_applications
from airflow_mesh.hooks.yarn_rm import RMUnavailable, YarnApp


class FakeRM:
    """An RM client answering from a dict of tag -> applications, recording kills."""

    def __init__(self, apps: dict[str, list[YarnApp]], down: bool = False) -> None:
        self.apps, self.down, self.lookups, self.kills = apps, down, 0, []

    def apps_with_tag(self, tag: str) -> list[YarnApp]:
        self.lookups += 1
        if self.down:
            raise RMUnavailable("connection refused")
        return self.apps.get(tag, [])

    def kill(self, app_id: str) -> None:
        self.kills.append(app_id)


def hook_returning(monkeypatch, clients: dict[str, FakeRM]) -> list[str]:
    """``YarnResourceManagerHook(conn_id).get_conn()`` answers from ``clients``; returns the conn ids asked for."""
    from airflow_mesh.hooks.yarn_rm import YarnResourceManagerHook

    made: list[str] = []

    def get_conn(self) -> FakeRM:
        made.append(self.yarn_conn_id)
        if self.yarn_conn_id not in clients:
            raise LookupError(f"The conn_id `{self.yarn_conn_id}` isn't defined")
        return clients[self.yarn_conn_id]

    monkeypatch.setattr(YarnResourceManagerHook, "get_conn", get_conn)
    return made


def test_kills_live_applications_of_each_tag_and_leaves_finished_ones(monkeypatch) -> None:
    rm = FakeRM({"t1": [YarnApp("app_1", "RUNNING", "UNDEFINED"), YarnApp("app_0", "FINISHED", "FAILED")],
                 "t2": [YarnApp("app_2", "ACCEPTED", "UNDEFINED")]})
    made = hook_returning(monkeypatch, {"rm": rm})
    killed, problems = kill_applications([SparkTarget("rm", "t1", "d.a r1"), SparkTarget("rm", "t2", "d.a r2"),
                                          SparkTarget("rm", "t3", "d.a r3")])
    assert (killed, problems) == (["app_1", "app_2"], [])
    assert rm.kills == ["app_1", "app_2"] and made == ["rm"]   # one client per connection


def test_a_missing_connection_or_an_rm_down_is_tried_once_and_reported_never_raised(monkeypatch) -> None:
    down = FakeRM({}, down=True)
    made = hook_returning(monkeypatch, {"down": down})
    monkeypatch.setattr(spark_apps.log, "warning", lambda *a: None)
    targets = [SparkTarget(c, f"t{i}", f"d.a r{i}") for i in range(3) for c in ("down", "nowhere")]
    killed, problems = kill_applications(targets)
    assert killed == [] and len(problems) == 6
    assert down.lookups == 1 and made == ["down", "nowhere"]   # bounded: once per connection, not per task
    assert problems[0] == "d.a r0: connection down: RMUnavailable: connection refused"
    assert problems[1] == "d.a r0: connection nowhere: LookupError: The conn_id `nowhere` isn't defined"
