"""scripts/local_yarn.py without starting a JVM: its configuration and its start-up errors."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from local_yarn import LocalYarn, LocalYarnError, team_queues

REPO = Path(__file__).resolve().parents[3]


def test_one_capacity_scheduler_queue_per_team_and_the_proxy_user_accepted() -> None:
    settings = LocalYarn(REPO / "teams").settings()
    assert team_queues(REPO / "teams") == {"authentication": "authentication.yaml", "bi": "business-intelligence.yaml",
                                           "payments": "payments.yaml", "risk": "risk.yaml"}
    assert settings["yarn.scheduler.capacity.root.queues"] == "default,authentication,bi,payments,risk"
    shares = [float(v) for k, v in settings.items() if k.endswith(".capacity") and k.count(".") == 5]
    assert round(sum(shares), 6) == 100.0
    user = getpass.getuser()
    assert settings[f"hadoop.proxyuser.{user}.hosts"] == settings[f"hadoop.proxyuser.{user}.groups"] == "*"
    assert settings["yarn.log-aggregation-enable"] == "true"
    assert int(settings["yarn.resourcemanager.max-completed-applications"]) <= 5
    assert settings["fs.defaultFS"] == "file:///"
    assert all(v.startswith("127.0.0.1:") for k, v in settings.items() if k.startswith("yarn.resourcemanager.")
               and k.endswith(".address"))


def test_a_missing_java_is_named_with_its_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))           # no java, no mvn
    with pytest.raises(LocalYarnError, match=r"needs 'java'.*apt-get install default-jdk-headless"):
        LocalYarn(REPO / "teams", tmp_path).start()
