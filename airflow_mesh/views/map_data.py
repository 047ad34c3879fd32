"""The mesh map's data: teams, tables, DAGs, lineage edges and data dictionary, as one JSON document.

Pure (no Airflow import): the route adds run states and what the user may see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_mesh.core.intervals import grid_for, iso, period_of_logical_date
from airflow_mesh.core.registry.mesh import Mesh


def with_period(latest: dict | None, schedule: str, timetable: str) -> dict | None:
    """The latest run with the period of data it covers (``period_start``, ``period_end``: ``[start, end)``),
    which is what a person asks of a table; the logical date alone says it only by the timetable's convention."""
    if not latest or not latest.get("logical_date"):
        return latest
    period = period_of_logical_date(grid_for(schedule), datetime.fromisoformat(latest["logical_date"]), timetable)
    return {**latest, "period_start": iso(period.start), "period_end": iso(period.end)}


def mesh_map(mesh: Mesh, states: dict[tuple[str, str], dict], readable_dags: set[str]) -> dict[str, Any]:
    """Everything the map page shows. Run states only for DAGs the user may read."""
    order = mesh.topological_order()
    depth: dict[str, int] = {}
    for name in order:
        t = mesh.tables[name]
        depth[name] = 1 + max((depth[i] for i in t.inputs if i in depth), default=-1)
    tables = []
    for name in order:
        t = mesh.tables[name]
        key = (t.producer_dag, t.producer_task)
        tables.append({
            "name": t.name, "team": t.team, "access": t.access, "schedule": t.schedule, "comment": t.comment,
            "producer": t.producer, "producer_dag": t.producer_dag, "contract": f"{t.file}:{t.line}",
            "inputs": list(t.inputs), "consumers": list(mesh.downstream(t.name)), "depth": depth[name],
            "partitioned_by": list(t.partitioned_by),
            "columns": [{"name": c.name, "type": c.type, "comment": c.comment, "partition": c.partition}
                        for c in t.columns],
            "latest": with_period(states.get(key), t.schedule, t.timetable) if t.producer_dag in readable_dags else None,
        })
    edges = [{"from": i, "to": t.name, "cross_team": mesh.tables[i].team != t.team}
             for t in mesh.tables.values() for i in t.inputs]
    dags_by_team: dict[str, list[str]] = {}
    for dag_id in sorted(mesh.tables_by_dag):
        team = mesh.team_of_producer_dag(dag_id)
        if team:
            dags_by_team.setdefault(team, []).append(dag_id)
    teams = [{"name": team.name, "description": team.description, "contact": team.contact_line,
              "channel": team.alerts.channel, "queue": team.yarn.queue, "dags": dags_by_team.get(team.name, []),
              "tables": [t["name"] for t in tables if t["team"] == team.name]}
             for team in sorted(mesh.teams.values(), key=lambda x: x.name)]
    return {"teams": teams, "tables": tables, "edges": edges,
            "counts": {"teams": len(teams), "tables": len(tables), "edges": len(edges),
                       "cross_team_edges": sum(e["cross_team"] for e in edges)}}
