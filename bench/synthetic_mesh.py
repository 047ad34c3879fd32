"""Write a synthetic mesh registry: N tables over T teams, reproducible from a seed.

Two shapes (both used by the registry and planner benchmarks):

* ``teams`` (default): schedules get coarser downstream (hourly roots, then daily,
  weekly, monthly), each table reads 1-3 earlier tables, about 1 in 8 is private to
  its team (and read only by its own team); one DAG per team and schedule.
* ``all_downstream`` (the worst case): every table is downstream of table 0
  (hourly), each table has its own DAG; a quarter of the tables are hourly.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

TEAM_YAML = """name: {team}
description: Synthetic team {i}.
contacts:
  - name: Lead {i}
    email: lead{i}@example.com
yarn:
  queue: {team}
  proxy_user: svc_{team}
"""
LEVELS = ["@hourly", "@daily", "@weekly", "@monthly"]


def generate(root: Path, n_tables: int, n_teams: int = 20, seed: int = 7, shape: str = "teams",
             timezones: tuple[str, ...] = ()) -> Path:
    """Write the mesh under ``root``. ``timezones`` (``all_downstream`` only): table k's ``mesh.timezone``
    is ``timezones[k % len(timezones)]`` (``UTC`` writes none), so grids in zones are exercised too."""
    if shape == "all_downstream":
        return generate_all_downstream(root, n_tables, n_teams, seed, timezones)
    if timezones:
        raise ValueError("timezones: only the all_downstream shape has one DAG per table (one zone per DAG)")
    rng = random.Random(seed)
    teams = write_teams(root, n_teams)
    tables: list[tuple[str, str, int, str]] = []  # (name, team, level, access)
    for k in range(n_tables):
        team = teams[k % n_teams]
        level = 0 if k < max(1, n_tables // 10) else min(3, 1 + int(rng.random() * 3 * k / n_tables) if k else 0)
        candidates = [t for t in tables if t[2] <= level and (t[3] == "public" or t[1] == team)]
        inputs = rng.sample(candidates, min(len(candidates), rng.randint(1, 3))) if level > 0 and candidates else []
        if level > 0 and not inputs:
            level = 0
        access = "private" if rng.random() < 0.125 else "public"
        name = f"db_{team}.t{k:05d}"
        tables.append((name, team, level, access))
        schedule = LEVELS[level]
        dag = f"{team}_{schedule.strip('@')}"
        props = [("mesh.producer", f"{dag}.build_t{k:05d}"), ("mesh.schedule", schedule), ("mesh.access", access),
                 ("mesh.start_date", "2025-01-01")]
        if inputs:
            props.append(("mesh.inputs", ", ".join(t[0] for t in inputs)))
        write_table(root, team, name, k, props)
    return root


def write_table(root: Path, team: str, name: str, k: int, props: list[tuple[str, str]]) -> None:
    folder = root / "ddl" / team
    folder.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(f"  '{a}' = '{b}'" for a, b in props)
    (folder / f"t{k:05d}.sql").write_text(
        f"CREATE TABLE {name} (\n  id STRING COMMENT 'Row id',\n  amount DOUBLE COMMENT 'An amount',\n"
        f"  label STRING COMMENT 'A label',\n  part STRING COMMENT 'Partition'\n)\nUSING parquet\n"
        f"PARTITIONED BY (part)\nCOMMENT 'Synthetic table {k}'\nTBLPROPERTIES (\n{body}\n);\n")


def write_teams(root: Path, n_teams: int) -> list[str]:
    (root / "teams").mkdir(parents=True, exist_ok=True)
    teams = [f"team{i:02d}" for i in range(n_teams)]
    for i, team in enumerate(teams):
        (root / "teams" / f"{team}.yaml").write_text(TEAM_YAML.format(team=team, i=i))
    return teams


def generate_all_downstream(root: Path, n_tables: int, n_teams: int = 20, seed: int = 7,
                            timezones: tuple[str, ...] = ()) -> Path:
    """Every table downstream of ``t00000`` (hourly); one DAG per table; all public."""
    rng = random.Random(seed)
    teams = write_teams(root, n_teams)
    levels: list[int] = []
    names: list[str] = []
    for k in range(n_tables):
        team = teams[k % n_teams]
        level = 0 if k == 0 or rng.random() < 0.25 else rng.choice((1, 1, 2, 3))
        candidates = [i for i in range(k) if levels[i] <= level]
        inputs = rng.sample(candidates, min(len(candidates), rng.randint(1, 3))) if k else []
        if k and not inputs:  # nothing as fine-grained before it: read the hourly root
            inputs = [0]
        name = f"db_{team}.t{k:05d}"
        levels.append(level)
        names.append(name)
        props = [("mesh.producer", f"dag_t{k:05d}.build"), ("mesh.schedule", LEVELS[level]),
                 ("mesh.access", "public"), ("mesh.start_date", "2025-01-01")]
        if inputs:
            props.append(("mesh.inputs", ", ".join(names[i] for i in inputs)))
        if timezones and timezones[k % len(timezones)] != "UTC":
            props.append(("mesh.timezone", timezones[k % len(timezones)]))
        write_table(root, team, name, k, props)
    return root


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("root", type=Path)
    p.add_argument("--tables", type=int, default=500)
    p.add_argument("--teams", type=int, default=20)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--shape", choices=("teams", "all_downstream"), default="teams")
    a = p.parse_args()
    generate(a.root, a.tables, a.teams, a.seed, a.shape)
    print(f"wrote {a.tables} tables over {a.teams} teams to {a.root}")


DAG_FILE = '''from datetime import datetime

from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

with DAG({dag_id!r}, schedule={schedule!r}, start_date=datetime(2025, 1, 1), catchup=False, tags=[{tag!r}]):
    waits = {{t: TableSensor(task_id="wait_" + t.replace(".", "_"), table=t) for t in {inputs!r}}}
    for table, task_id, reads in {produces!r}:
        produce = ProduceTableOperator(task_id=task_id, table=table)
        for t in reads:
            waits[t] >> produce
'''


def generate_dags(root: Path, dags_folder: Path, n_dags: int) -> int:
    """One DAG file per producer DAG of the mesh at ``root`` (under ``dags/<team>/``), plus consumer-only
    DAGs (sensors on tables their team may read) up to ``n_dags`` files. Returns the number written."""
    import re

    tables: dict[str, dict] = {}
    for sql in sorted((root / "ddl").glob("*/*.sql")):
        text = sql.read_text()
        props = dict(re.findall(r"'(mesh\.[a-z_]+)' = '([^']*)'", text))
        name = re.search(r"CREATE TABLE (\S+) \(", text).group(1)
        tables[name] = {"team": sql.parent.name, "props": props}
    by_dag: dict[str, list[str]] = {}
    for name, t in tables.items():
        by_dag.setdefault(t["props"]["mesh.producer"].rpartition(".")[0], []).append(name)
    written = 0
    for dag_id, names in sorted(by_dag.items()):
        team = tables[names[0]]["team"]
        produces = []
        for name in names:
            reads = [i.strip() for i in tables[name]["props"].get("mesh.inputs", "").split(",") if i.strip()]
            produces.append((name, tables[name]["props"]["mesh.producer"].rpartition(".")[2], reads))
        inputs = sorted({i for _, _, reads in produces for i in reads})
        _write_dag(dags_folder / team / f"{dag_id}.py", dag_id, tables[names[0]]["props"]["mesh.schedule"],
                   team, inputs, produces)
        written += 1
    readable = sorted(tables)
    rng = random.Random(11)
    teams = sorted({t["team"] for t in tables.values()})
    while written < n_dags:
        team = teams[written % len(teams)]
        mine = [n for n in readable if tables[n]["props"]["mesh.access"] == "public" or tables[n]["team"] == team]
        dag_id = f"{team}_report_{written:03d}"
        _write_dag(dags_folder / team / f"{dag_id}.py", dag_id, "@daily", team, sorted(rng.sample(mine, 3)), [])
        written += 1
    return written


def _write_dag(path: Path, dag_id: str, schedule: str, team: str, inputs: list[str], produces: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DAG_FILE.format(dag_id=dag_id, schedule=schedule, tag=f"team:{team}", inputs=inputs,
                                    produces=produces))
