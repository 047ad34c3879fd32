"""A ``spark-submit`` SIMULATOR for YARN cluster mode: submits to the YARN RM simulator over its REST API.

Real ``spark-submit --master yarn`` speaks YARN's RPC protocol to a real cluster,
which CI does not have. This stand-in accepts the same command line the Spark
provider builds, checks the parts the mesh relies on (master yarn, cluster deploy
mode, ``spark.yarn.submit.waitAppCompletion=false``), submits through the RM
simulator's documented REST submission endpoints (address in ``$YARN_RM_SIMULATOR_URL``),
prints Spark's own "Submitted application ..." line, and exits like spark-submit
does without waiting for completion. Install it as ``spark-submit`` on ``PATH`` with
:func:`install_shim`.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import httpx


def parse(argv: list[str]) -> dict:
    opts: dict = {"conf": {}, "args": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--conf":
            k, _, v = argv[i + 1].partition("=")
            opts["conf"][k] = v
            i += 2
        elif a.startswith("--") and "application" not in opts:
            opts[a[2:]] = argv[i + 1]
            i += 2
        elif "application" not in opts:
            opts["application"] = a
            i += 1
        else:
            opts["args"].append(a)
            i += 1
    return opts


def main(argv: list[str]) -> int:
    o = parse(argv)
    if o.get("master") != "yarn" or o.get("deploy-mode") != "cluster":
        print(f"simulator: only --master yarn --deploy-mode cluster is simulated, got {o.get('master')} "
              f"{o.get('deploy-mode')}", file=sys.stderr)
        return 2
    if o["conf"].get("spark.yarn.submit.waitAppCompletion") != "false":
        print("simulator: spark-submit would wait for the application (set spark.yarn.submit.waitAppCompletion=false)",
              file=sys.stderr)
        return 2
    rm = os.environ["YARN_RM_SIMULATOR_URL"]
    app_id = httpx.post(f"{rm}/ws/v1/cluster/apps/new-application").json()["application-id"]
    tags = [t for t in o["conf"].get("spark.yarn.tags", "").split(",") if t]
    params = {"doAs": o["proxy-user"]} if o.get("proxy-user") else {}
    r = httpx.post(f"{rm}/ws/v1/cluster/apps", params=params, json={
        "application-id": app_id, "application-name": o.get("name", ""), "queue": o.get("queue", "default"),
        "application-type": "SPARK", "application-tags": {"tag": tags},
        "am-container-spec": {"commands": {"command": shlex.join(["spark-submit", *argv])}}})
    r.raise_for_status()
    print(f"26/11/23 10:00:00 INFO Client: Submitting application {app_id} to ResourceManager")
    print(f"26/11/23 10:00:01 INFO YarnClientImpl: Submitted application {app_id}")
    print(f"26/11/23 10:00:01 INFO Client: Application report for {app_id} (state: ACCEPTED)")
    return 0


def install_shim(bin_dir: Path) -> Path:
    """Write ``bin_dir/spark-submit`` running this simulator with the current Python."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "spark-submit"
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m airflow_mesh.testing.spark_submit_simulator \"$@\"\n")
    shim.chmod(0o755)
    return shim


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
