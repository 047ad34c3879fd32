"""The mesh graph: who owns what, who produces what, who reads what.

Built once from the validated teams and tables; answers every ownership and
lineage question (producers, consumers, upstream/downstream closure, team of a
table or DAG) from dictionaries, so lookups cost microseconds.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator, Set
from dataclasses import dataclass, field
from functools import cached_property

from airflow_mesh.core.intervals import grid_for
from airflow_mesh.core.registry.access import read_error
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
               invalid: Set[str] = frozenset()) -> tuple[Mesh, list[MeshError]]:
    """Cross-file checks (duplicates, unknown inputs, producer conflicts, cycles) and the graph.

    ``invalid`` holds the names of tables whose own DDL failed (``db.table``, or the file's stem
    when even the CREATE line is unreadable): inputs naming them are not reported again as
    undefined, and no other input typo is hidden by them.

    Each check is its own step below; errors come out in the order of the steps.
    """
    by_name, errors = _unique_tables(tables)
    errors += _producer_conflicts(by_name)
    consumers, input_errors = _resolve_inputs(by_name, teams, invalid)
    errors += input_errors
    errors += _cycles(by_name)
    mesh = Mesh(root=root, teams=teams, tables=by_name,
                consumers={k: tuple(sorted(v)) for k, v in consumers.items()})
    return mesh, errors


def _unique_tables(tables: list[Table]) -> tuple[dict[str, Table], list[MeshError]]:
    """Tables by name, the first file (in path order) winning, so a duplicate is reported against the later file."""
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
    return by_name, errors


def _producer_conflicts(by_name: dict[str, Table]) -> list[MeshError]:
    """Tables written by one DAG must agree on its team and schedule: a DAG has one owner and one timetable."""
    by_dag: dict[str, list[Table]] = defaultdict(list)
    for t in by_name.values():
        by_dag[t.producer_dag].append(t)
    errors: list[MeshError] = []
    for dag_id, ts in by_dag.items():
        errors += _team_conflicts(dag_id, ts)
        errors += _schedule_conflicts(dag_id, ts)
    return errors


def _team_conflicts(dag_id: str, ts: list[Table]) -> list[MeshError]:
    """Every table of ``dag_id`` claimed by another team than its first table's."""
    if len({t.team for t in ts}) <= 1:
        return []
    return [MeshError(file=t.file, line=t.line_of("mesh.producer"),
                      message=(f"producer '{t.producer}' is claimed by team '{t.team}', but DAG '{dag_id}' "
                               f"already produces '{ts[0].name}' for team '{ts[0].team}' ({ts[0].file})"),
                      fix="a DAG belongs to one team: move the task to a DAG of your team")
            for t in ts[1:] if t.team != ts[0].team]


def _schedule_conflicts(dag_id: str, ts: list[Table]) -> list[MeshError]:
    """Every table of ``dag_id`` whose schedule (as a grid) differs from its first table's."""
    if len({grid_for(t.schedule).expression for t in ts}) <= 1:
        return []
    return [MeshError(file=t.file, line=t.line_of("mesh.schedule"),
                      message=(f"mesh.schedule '{t.schedule}' conflicts with '{ts[0].schedule}' of "
                               f"'{ts[0].name}', produced by the same DAG '{dag_id}'"),
                      fix="tables written by one DAG share its schedule")
            for t in ts[1:] if grid_for(t.schedule).expression != grid_for(ts[0].schedule).expression]


def _resolve_inputs(by_name: dict[str, Table], teams: dict[str, Team],
                    invalid: Set[str]) -> tuple[dict[str, list[str]], list[MeshError]]:
    """Each table's ``mesh.inputs`` resolved to defined tables: the consumers graph, and every input that is
    undefined, the table itself, or not readable by the consumer's team (:func:`~airflow_mesh.core.registry.access.read_error`).

    Inputs naming a table whose own DDL failed (``invalid``) are skipped: that failure is already reported.
    """
    consumers: dict[str, list[str]] = defaultdict(list)
    errors: list[MeshError] = []
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
                error = read_error(t.name, t.team, src, teams.get(src.team), file=t.file, line=t.line_of("mesh.inputs"))
                if error:
                    errors.append(error)
    return consumers, errors


def _cycles(tables: dict[str, Table]) -> list[MeshError]:
    """One error per cycle of ``mesh.inputs``: every strongly connected component of more than one table."""
    graph = {name: [i for i in t.inputs if i in tables] for name, t in tables.items()}
    errors = []
    for comp in _Tarjan(graph).cycles():
        t = tables[comp[0]]
        errors.append(MeshError(file=t.file, line=t.line_of("mesh.inputs"),
                                message=f"tables read each other in a cycle of mesh.inputs: {', '.join(comp)}",
                                fix="a table cannot depend on itself through others; remove one of the mesh.inputs"))
    return errors


class _Tarjan:
    """Tarjan's strongly connected components, iterative (a deep input chain must not hit the recursion limit).

    A class so each step of the algorithm (enter a node, follow an edge, close a node) is a named method
    sharing the bookkeeping, rather than one long loop.
    """

    def __init__(self, graph: dict[str, list[str]]) -> None:
        self.graph = graph
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.components: list[list[str]] = []

    def cycles(self) -> list[list[str]]:
        """Components of more than one node, each sorted, in the order Tarjan closes them (roots by name)."""
        for root in sorted(self.graph):
            if root not in self.index:
                self._visit(root)
        return self.components

    def _enter(self, node: str) -> Iterator[str]:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)
        return iter(self.graph[node])

    def _visit(self, root: str) -> None:
        work = [(root, self._enter(root))]
        while work:
            node, it = work[-1]
            nxt = self._next_unvisited(node, it)
            if nxt is not None:
                work.append((nxt, self._enter(nxt)))
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                self.low[parent] = min(self.low[parent], self.low[node])
            if self.low[node] == self.index[node]:
                self._close(node)

    def _next_unvisited(self, node: str, it: Iterator[str]) -> str | None:
        """Follow ``node``'s remaining edges: lower its link through nodes on the stack, stop at an unvisited one."""
        for nxt in it:
            if nxt not in self.index:
                return nxt
            if nxt in self.on_stack:
                self.low[node] = min(self.low[node], self.index[nxt])
        return None

    def _close(self, node: str) -> None:
        """``node`` is a component's root: pop the component; keep it when it is a cycle."""
        comp = []
        while True:
            n = self.stack.pop()
            self.on_stack.discard(n)
            comp.append(n)
            if n == node:
                break
        if len(comp) > 1:
            self.components.append(sorted(comp))
