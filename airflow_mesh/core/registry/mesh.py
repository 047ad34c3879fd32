"""The mesh graph: who owns what, who produces what, who reads what.

Built once from the validated teams and tables; answers every ownership and
lineage question (producers, consumers, upstream/downstream closure, team of a
table or DAG) from dictionaries, so lookups cost microseconds.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from functools import cached_property

from airflow_mesh.core import rules  # module import: rules imports the registry models
from airflow_mesh.core.intervals import grid_for
from airflow_mesh.core.registry.models import MeshError, Table, Team


class UnknownTableError(KeyError):
    """A table name that the registry does not define."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Mesh:
    root: str
    teams: dict[str, Team]
    tables: dict[str, Table]
    consumers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> tables that read it

    # ---- lookups ---------------------------------------------------------------------
    def table(self, name: str) -> Table:
        try:
            return self.tables[name.lower()]
        except KeyError:
            close = sorted(t for t in self.tables if t.split(".")[-1] == name.split(".")[-1])
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownTableError(f"table '{name}' is not defined in {self.root}/ddl{hint}") from None

    def team(self, name: str) -> Team:
        try:
            return self.teams[name]
        except KeyError:
            raise KeyError(f"team '{name}' has no file {self.root}/teams/{name}.yaml") from None

    @cached_property
    def tables_by_dag(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = defaultdict(list)
        for t in self.tables.values():
            out[t.producer_dag].append(t.name)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def team_of_producer_dag(self, dag_id: str) -> str | None:
        """The team of the tables ``dag_id`` produces (``None`` if it produces none).

        Only the registry's answer: :func:`airflow_mesh.core.ownership.owning_team` also asks the
        DAG's folder and tag."""
        tables = self.tables_by_dag.get(dag_id)
        return self.tables[tables[0]].team if tables else None

    def upstream(self, table: str) -> tuple[str, ...]:
        return self.table(table).inputs

    def downstream(self, table: str) -> tuple[str, ...]:
        return self.consumers.get(self.table(table).name, ())

    def closure(self, table: str, direction: str = "down", depth: int | None = None) -> dict[str, int]:
        """Every table reachable from ``table`` (``down`` or ``up``), with its distance."""
        step = self.downstream if direction == "down" else self.upstream
        start = self.table(table).name
        dist = {start: 0}
        queue = deque([start])
        while queue:
            cur = queue.popleft()
            if depth is not None and dist[cur] >= depth:
                continue
            for nxt in step(cur):
                if nxt not in dist:
                    dist[nxt] = dist[cur] + 1
                    queue.append(nxt)
        return dist

    def topological_order(self, names: set[str] | None = None) -> list[str]:
        """Tables (optionally a subset) ordered so every table comes after its inputs."""
        names = set(self.tables) if names is None else names
        indeg = {n: sum(1 for i in self.tables[n].inputs if i in names) for n in names}
        ready = sorted(n for n, d in indeg.items() if d == 0)
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for c in self.consumers.get(n, ()):
                if c in names:
                    indeg[c] -= 1
                    if indeg[c] == 0:
                        ready.append(c)
        return order


def build_mesh(root: str, teams: dict[str, Team], tables: list[Table],
               invalid: set[str] = frozenset()) -> tuple[Mesh, list[MeshError]]:
    """Cross-file checks (duplicates, unknown inputs, producer conflicts, cycles) and the graph.

    ``invalid`` holds the names of tables whose own DDL failed (``db.table``, or the file's stem
    when even the CREATE line is unreadable): inputs naming them are not reported again as
    undefined, and no other input typo is hidden by them.
    """
    errors: list[MeshError] = []
    by_name: dict[str, Table] = {}
    for t in sorted(tables, key=lambda t: t.file):
        if t.name in by_name:
            first = by_name[t.name]
            errors.append(MeshError(file=t.file, line=t.line,
                                    message=f"table '{t.name}' is already defined in {first.file}:{first.line}",
                                    fix="keep one definition; the folder it is in is its owning team"))
            continue
        by_name[t.name] = t

    by_dag: dict[str, list[Table]] = defaultdict(list)
    for t in by_name.values():
        by_dag[t.producer_dag].append(t)
    for dag_id, ts in by_dag.items():
        teams_of_dag = sorted({t.team for t in ts})
        if len(teams_of_dag) > 1:
            for t in ts[1:]:
                if t.team != ts[0].team:
                    errors.append(MeshError(
                        file=t.file, line=t.line_of("mesh.producer"),
                        message=(f"producer '{t.producer}' is claimed by team '{t.team}', but DAG '{dag_id}' "
                                 f"already produces '{ts[0].name}' for team '{ts[0].team}' ({ts[0].file})"),
                        fix="a DAG belongs to one team: move the task to a DAG of your team"))
        schedules = {grid_for(t.schedule).expression for t in ts}
        if len(schedules) > 1:
            for t in ts[1:]:
                if grid_for(t.schedule).expression != grid_for(ts[0].schedule).expression:
                    errors.append(MeshError(
                        file=t.file, line=t.line_of("mesh.schedule"),
                        message=(f"mesh.schedule '{t.schedule}' conflicts with '{ts[0].schedule}' of "
                                 f"'{ts[0].name}', produced by the same DAG '{dag_id}'"),
                        fix="tables written by one DAG share its schedule"))

    consumers: dict[str, list[str]] = defaultdict(list)
    for t in by_name.values():
        for i in t.inputs:
            if i not in by_name and (i in invalid or i.split(".")[-1] in invalid):
                continue
            if i not in by_name:
                errors.append(MeshError(file=t.file, line=t.line_of("mesh.inputs"),
                                        message=f"input table '{i}' is not defined in ddl/",
                                        fix="correct the name or add its DDL to the owning team's folder"))
            elif i == t.name:
                errors.append(MeshError(file=t.file, line=t.line_of("mesh.inputs"),
                                        message=f"table '{t.name}' lists itself as input", fix="remove it"))
            else:
                consumers[i].append(t.name)
                src = by_name[i]
                error = rules.read_error(t.name, t.team, src, teams.get(src.team), file=t.file, line=t.line_of("mesh.inputs"))
                if error:
                    errors.append(error)

    errors.extend(_cycles(by_name))
    mesh = Mesh(root=root, teams=teams, tables=by_name,
                consumers={k: tuple(sorted(v)) for k, v in consumers.items()})
    return mesh, errors


def _cycles(tables: dict[str, Table]) -> list[MeshError]:
    """One error per cycle of ``mesh.inputs`` (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    for root in sorted(tables):
        if root in index:
            continue
        work = [(root, iter(tables[root].inputs))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in tables:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(tables[nxt].inputs)))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                if len(comp) > 1:
                    components.append(sorted(comp))
    errors = []
    for comp in components:
        t = tables[comp[0]]
        errors.append(MeshError(file=t.file, line=t.line_of("mesh.inputs"),
                                message=f"tables read each other in a cycle of mesh.inputs: {', '.join(comp)}",
                                fix="a table cannot depend on itself through others; remove one of the mesh.inputs"))
    return errors
