"""Team roles for FabAuthManager, generated from the mesh instead of edited by hand.

``airflow-mesh sync-roles`` gives every team one Flask-AppBuilder role, ``team:<name>``:
edit (read, edit, delete; create/read/delete runs) on the DAGs the team owns, read on
every other DAG. It is idempotent, and removes a role's DAG permissions that no longer
match (a DAG that changed owner, or was deleted). Users get the built-in ``Viewer``
role (menus, logs, browsing) plus their team's role. Ownership comes from the same
rule as everywhere else (:func:`airflow_mesh.core.ownership.owning_team`), applied to the
DAGs in the metadata DB.

Under SimpleAuthManager there are no per-DAG permissions: its fixed roles (viewer,
user, op, admin) apply to all DAGs alike; see README "Governance".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from airflow_mesh.core.ownership import owning_team
from airflow_mesh.core.registry.mesh import Mesh

ROLE_PREFIX = "team:"
DAG_PREFIX = "DAG:"
DAG_RUN_PREFIX = "DAG Run:"
OWN_DAG_ACTIONS = ("can_read", "can_edit", "can_delete")
OWN_RUN_ACTIONS = ("can_read", "can_create", "can_edit", "can_delete")  # can_edit: pause/cancel its backfills
OTHER_DAG_ACTIONS = ("can_read",)
OTHER_RUN_ACTIONS = ("can_read",)

Perm = tuple[str, str]  # (action, resource)


@dataclass(frozen=True)
class DagRow:
    dag_id: str
    fileloc: str | None
    tags: tuple[str, ...]


@dataclass
class SyncReport:
    added: dict[str, list[Perm]] = field(default_factory=dict)
    removed: dict[str, list[Perm]] = field(default_factory=dict)
    created_roles: list[str] = field(default_factory=list)
    unowned: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        verb = "would " if self.dry_run else ""
        out = [f"{verb}create role {r}" for r in self.created_roles]
        for role in sorted(set(self.added) | set(self.removed)):
            for action, resource in sorted(self.added.get(role, ())):
                out.append(f"{role}: {verb}grant {action} on {resource}")
            for action, resource in sorted(self.removed.get(role, ())):
                out.append(f"{role}: {verb}revoke {action} on {resource}")
        out += [f"warning: DAG {d} belongs to no team; no team role may edit it" for d in self.unowned]
        changes = sum(map(len, self.added.values())) + sum(map(len, self.removed.values())) + len(self.created_roles)
        out.append(f"{changes} change(s){' (dry run)' if self.dry_run else ''}")
        return out


def role_name(team: str) -> str:
    return f"{ROLE_PREFIX}{team}"


def desired_permissions(mesh: Mesh, dags: Iterable[DagRow]) -> tuple[dict[str, set[Perm]], list[str]]:
    """Every team role's DAG permissions, and the DAGs no team owns."""
    owners = {d.dag_id: owning_team(mesh, d.dag_id, d.fileloc, d.tags) for d in dags}
    wanted: dict[str, set[Perm]] = {role_name(t): set() for t in mesh.teams}
    for dag_id, owner in owners.items():
        for team in mesh.teams:
            own = team == owner
            perms = wanted[role_name(team)]
            perms.update((a, DAG_PREFIX + dag_id) for a in (OWN_DAG_ACTIONS if own else OTHER_DAG_ACTIONS))
            perms.update((a, DAG_RUN_PREFIX + dag_id) for a in (OWN_RUN_ACTIONS if own else OTHER_RUN_ACTIONS))
    return wanted, sorted(d for d, o in owners.items() if o is None)


def is_dag_permission(resource: str) -> bool:
    return resource.startswith(DAG_PREFIX) or resource.startswith(DAG_RUN_PREFIX)


def sync_roles(security_manager, wanted: dict[str, set[Perm]], dry_run: bool = False) -> SyncReport:
    """Make each team role hold exactly its wanted DAG permissions (other permissions are left alone)."""
    sm = security_manager
    report = SyncReport(dry_run=dry_run)
    for role_name_, perms in sorted(wanted.items()):
        role = sm.find_role(role_name_)
        if role is None:
            report.created_roles.append(role_name_)
            if dry_run:
                report.added[role_name_] = sorted(perms)
                continue
            role = sm.add_role(role_name_)
        have = {(p.action.name, p.resource.name) for p in role.permissions if is_dag_permission(p.resource.name)}
        to_add, to_remove = sorted(perms - have), sorted(have - perms)
        if to_add:
            report.added[role_name_] = to_add
        if to_remove:
            report.removed[role_name_] = to_remove
        if dry_run:
            continue
        for action, resource in to_add:
            sm.add_permission_to_role(role, sm.create_permission(action, resource))
        for action, resource in to_remove:
            perm = sm.get_permission(action, resource)
            if perm is not None:
                sm.remove_permission_from_role(role, perm)
    return report


def dags_in_db() -> list[DagRow]:
    """The DAGs Airflow knows, with file and tags (the ownership rule's inputs)."""
    from airflow.models.dag import DagModel, DagTag
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(select(DagModel.dag_id, DagModel.fileloc)).all()
        tags: dict[str, list[str]] = {}
        for dag_id, name in session.execute(select(DagTag.dag_id, DagTag.name)).all():
            tags.setdefault(dag_id, []).append(name)
    return [DagRow(dag_id, fileloc, tuple(tags.get(dag_id, ()))) for dag_id, fileloc in rows]


def sync_roles_from_db(dry_run: bool = False) -> SyncReport:
    """The CLI's entry: read DAGs from the metadata DB and sync the roles through FAB's security manager."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    from airflow_mesh.settings import configured_mesh

    wanted, unowned = desired_permissions(configured_mesh(), dags_in_db())
    with get_application_builder() as appbuilder:
        report = sync_roles(appbuilder.sm, wanted, dry_run=dry_run)
    report.unowned = unowned
    return report
