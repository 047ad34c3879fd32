"""Authorization for the mesh's routes: ask the auth manager exactly what Airflow's own API asks.

Airflow adds no authentication or authorization to a mounted plugin app, so every
mesh route asks here. Each question names the same method, access entity and DAG
details (with the DAG's team, in multi-team mode) that Airflow's own route for the
same action asks (``api_fastapi/core_api/security.py``), so a user Airflow refuses
is refused here too, under any auth manager:

==============================================  =====================================================
mesh action                                     Airflow's own equivalent (what is asked, per DAG)
==============================================  =====================================================
execute a backfill job (native backfills)       ``POST /api/v2/backfills``: ``POST`` on ``RUN``
pause / resume / cancel / retry a job           ``PUT /api/v2/backfills/{id}/pause``: ``PUT`` on ``RUN``
read a job, its progress, the history           ``GET /api/v2/backfills``: ``GET`` on ``RUN``
latest producer task state on the map           ``GET .../taskInstances``: ``GET`` on ``TASK_INSTANCE``
==============================================  =====================================================

The CSRF guard lives here too: it decides by the credential the request actually
authenticated with, not by what a header claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from fastapi import HTTPException, Request
from fastapi.security.utils import get_authorization_scheme_param

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod

CSRF_HEADER = "X-Requested-By"


def dag_teams(dag_ids: Iterable[str]) -> dict[str, str | None]:
    """Each DAG's team (from its bundle), as Airflow's API looks it up; ``None`` outside multi-team mode."""
    from airflow.models.dag import DagModel

    ids = sorted(set(dag_ids))
    if not ids:
        return {}
    mapping = DagModel.get_dag_id_to_team_name_mapping(ids)
    return {dag_id: mapping.get(dag_id) for dag_id in ids}


def authorized_dags(user, dag_ids: Iterable[str], method: ResourceMethod, entity: DagAccessEntity | None) -> set[str]:
    """The DAGs among ``dag_ids`` on which the auth manager grants ``method`` on ``entity`` to ``user``."""
    manager = get_auth_manager()
    return {
        dag_id for dag_id, team in dag_teams(dag_ids).items()
        if manager.is_authorized_dag(method=method, access_entity=entity,
                                     details=DagDetails(id=dag_id, team_name=team), user=user)
    }


def may_run(user, dag_ids: Iterable[str]) -> set[str]:
    """DAGs the user may create backfills (runs) in: what ``POST /api/v2/backfills`` asks."""
    return authorized_dags(user, dag_ids, "POST", DagAccessEntity.RUN)


def may_steer(user, dag_ids: Iterable[str]) -> set[str]:
    """DAGs whose backfills the user may pause, resume or cancel: what ``PUT /api/v2/backfills/{id}/*`` asks."""
    return authorized_dags(user, dag_ids, "PUT", DagAccessEntity.RUN)


def may_read_runs(user, dag_ids: Iterable[str]) -> set[str]:
    """DAGs whose runs and backfills the user may read: what ``GET /api/v2/backfills`` asks."""
    return authorized_dags(user, dag_ids, "GET", DagAccessEntity.RUN)


def may_read_task_instances(user, dag_ids: Iterable[str]) -> set[str]:
    """DAGs whose task instance states the user may read: what ``GET .../taskInstances`` asks."""
    return authorized_dags(user, dag_ids, "GET", DagAccessEntity.TASK_INSTANCE)


def cookie_authenticated(request: Request) -> bool:
    """Whether the request authenticated with the UI's ``_token`` cookie rather than a bearer token.

    Airflow's ``get_user`` takes a bearer token first, as FastAPI's ``HTTPBearer`` parses
    it, and falls back to the cookie; this parses the header with the same function, so
    the two cannot disagree. An ``Authorization`` header with an empty bearer or another
    scheme is no credential: the cookie is what authenticated such a request.
    """
    header = request.headers.get("authorization")
    scheme, token = get_authorization_scheme_param(header)
    return not (header and scheme.lower() == "bearer" and token)


def csrf_guard(request: Request) -> None:
    """Refuse cookie-authenticated state changes a cross-site page could forge.

    A cross-site form or image cannot set ``X-Requested-By``, and a cross-site script
    cannot without a CORS preflight this app never grants; when the browser sends
    ``Origin`` it must be this host. Bearer-token clients are not cookie-borne.
    """
    if not cookie_authenticated(request):
        return
    if not request.headers.get(CSRF_HEADER):
        raise HTTPException(403, f"missing header {CSRF_HEADER}: POSTs authenticated by cookie must set it (CSRF protection)")
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, f"cross-origin request from {origin} refused")
