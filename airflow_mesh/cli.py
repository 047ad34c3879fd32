"""``airflow-mesh``: the mesh's command line, usable in a team's CI with no running Airflow.

Settings come from Airflow's configuration (airflow.cfg of ``$AIRFLOW_HOME`` and ``AIRFLOW__MESH__*``,
through :mod:`airflow_mesh.settings`), so ``validate``, the cluster policy and the plugin see the same
``[mesh] root``. A registry passed explicitly (``validate ROOT``, ``--root``) needs no Airflow at all.

Exit codes: 0 success, 1 the registry or the DAGs break a rule (every error listed), 2 a usage or
configuration error (no ``[mesh] root``, no metadata DB, an unknown table).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_mesh.core.registry import UnknownTableError, load_mesh, validate_root
from airflow_mesh.core.registry.models import MeshValidationError
from airflow_mesh.settings import MeshNotConfigured, MeshSettingError, configured_mesh, mesh_root

if TYPE_CHECKING:
    from airflow_mesh.core.planner import Plan


def cmd_validate(args: argparse.Namespace) -> int:
    root = Path(args.root) if args.root else mesh_root()
    mesh, errors = validate_root(root)
    if errors:
        for e in errors:
            print(str(e), file=sys.stderr)
        print(f"\n{len(errors)} error(s) in {root}", file=sys.stderr)
        return 1
    assert mesh is not None
    if args.spark:  # Spark itself parses every DDL: a file sqlglot accepts but Spark rejects is an error
        from airflow_mesh.catalog.apply import parse_errors
        from airflow_mesh.catalog.spark_catalog import SparkCatalog
        from airflow_mesh.settings import catalog_dir

        catalog = SparkCatalog(catalog_dir())
        try:
            spark_errors = parse_errors(mesh, catalog)
        finally:
            catalog.close()
        for e in spark_errors:
            print(str(e), file=sys.stderr)
        if spark_errors:
            print(f"\n{len(spark_errors)} error(s) in {root}", file=sys.stderr)
            return 1
    print(f"OK: {len(mesh.teams)} teams, {len(mesh.tables)} tables in {root}{' (Spark parsed every DDL)' if args.spark else ''}")
    return 0


def reports_registry_errors(command):
    """Exit 1 with every registry error, or 2 for an unknown table, instead of a traceback."""

    @functools.wraps(command)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except MeshValidationError as err:
            print(err, file=sys.stderr)
            return 1
        except UnknownTableError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    return wrapper


@reports_registry_errors
def cmd_show(args: argparse.Namespace) -> int:
    mesh = load_mesh(args.root) if args.root else configured_mesh()
    table = mesh.table(args.table)
    team = mesh.teams[table.team]
    consumers = mesh.downstream(table.name)
    if args.json:
        data = table.model_dump(mode="json", exclude={"lines"})
        data.update(owner=team.name, contact=team.contact_line, consumers=list(consumers))
        print(json.dumps(data, indent=2))
        return 0
    print(f"{table.name}  ({table.access})  {table.comment}")
    print(f"  owner      {team.name}  {team.contact_line}  {team.alerts.channel or ''}".rstrip())
    print(f"  contract   {table.file}:{table.line}")
    print(f"  producer   {table.producer}  schedule {table.schedule}"
          + (f"  since {table.start_date:%Y-%m-%d}" if table.start_date else ""))
    print(f"  inputs     {', '.join(table.inputs) or '-'}")
    print(f"  consumers  {', '.join(f'{c} ({mesh.tables[c].team})' for c in consumers) or '-'}")
    print("  columns")
    width = max(len(c.name) for c in table.columns)
    for c in table.columns:
        part = "  [partition]" if c.partition else ""
        print(f"    {c.name:<{width}}  {c.type:<14} {c.comment}{part}")
    return 0


def _utc(value: str):
    from airflow_mesh.core.intervals import as_utc

    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date or datetime, e.g. 2026-11-02 or 2026-11-02T03:00") from err


@reports_registry_errors
def cmd_backfill_plan(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from airflow_mesh.core.intervals import UTC, iso

    try:  # one validation for CLI, API and UI: range, options, --stop-at-team names
        req = _request_from_args(args)
        plan = req.plan(load_mesh(args.root) if args.root else configured_mesh(), args.now or datetime.now(UTC))
    except (ValidationError, ValueError) as err:
        print(_explain(err), file=sys.stderr)
        return 2
    print(f"Backfill of {', '.join(plan.roots)} for {plan.period}: {plan.runs:,} runs in {len(plan.dags)} DAGs "
          f"({', '.join(f'{team} {n:,}' for team, n in plan.runs_by_team().items())})")
    for wave, dags in enumerate(plan.waves):
        print(f"wave {wave}:")
        for dag_id in dags:
            d = plan.dags[dag_id]
            spans = ", ".join(f"{iso(r.first)}..{iso(r.last)} ({r.count})" for r in d.ranges)
            print(f"  {dag_id:<24} {d.team:<22} {d.runs:>7,} runs  tasks {', '.join(d.tasks)}  [{spans}]")
    for line in plan.left_out:
        print(f"left out: {line}")
    print("(dry run: 'airflow-mesh backfill run' with the same arguments executes it)")
    return 0


def _explain(err: Exception) -> str:
    """One line per problem of a rejected request, without pydantic's URLs and input dumps."""
    from pydantic import ValidationError

    if not isinstance(err, ValidationError):
        return f"error: {err}"
    lines = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        lines.append(f"error: {field}: {message}" if field else f"error: {message}")
    return "\n".join(lines)


def _not_later_than_the_clock(now: datetime | None) -> datetime | None:
    """``backfill run --now``: an earlier "now" only leaves more periods out; a later one would plan runs
    Airflow refuses to create (their periods have not ended yet)."""
    from airflow_mesh.core.intervals import UTC, iso

    if now is not None and now > datetime.now(UTC):
        raise ValueError(f"--now {iso(now)} is later than this machine's clock: periods that have not ended yet "
                         "cannot run. Fix: leave --now out, or give a time that has passed")
    return now


def _request_from_args(args: argparse.Namespace):
    from airflow_mesh.backfill.request import BackfillRequest

    return BackfillRequest(roots=args.tables, start=args.start, end=args.end, downstream=not args.no_downstream,
                           depth=args.depth, stop_at_teams=args.stop_at_team or [],
                           only_failed=getattr(args, "only_failed", False),
                           run_backwards=getattr(args, "run_backwards", False),
                           max_active_runs=getattr(args, "max_active_runs", None))


def _print_run_preview(plan: Plan, preview: dict) -> None:
    """What ``backfill run`` is about to do, per wave and DAG, so the user confirms what they saw."""
    print(f"Backfill of {', '.join(plan.roots)}, [{preview['start']}, {preview['end']}), "
          f"{plan.runs:,} runs in {len(plan.dags)} DAGs:")
    for wave, dags in enumerate(plan.waves):
        for dag_id in dags:
            d = preview["dags"][dag_id]
            print(f"wave {wave}  {dag_id:<24} {d['runs']:>7,} runs ({d['to_create']} to create, {d['to_clear']} to "
                  f"clear, {d['in_flight']} in flight: skipped)  tasks {', '.join(d['tasks'])}")
    for line in plan.left_out:
        print(f"left out: {line}")


def _confirmed(plan: Plan) -> bool:
    """Whether the user answers yes at the prompt (anything else, including an empty line, is no)."""
    answer = input(f"Execute {plan.runs:,} runs in {len(plan.dags)} DAGs? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


@reports_registry_errors
def cmd_backfill_run(args: argparse.Namespace) -> int:
    """Accept a job against this machine's Airflow metadata DB (like Airflow's own CLI: DB access = trust),
    then materialize it in this process unless --background (an API server's materializer does it then)."""
    import getpass

    from pydantic import ValidationError

    from airflow_mesh.backfill import jobs, service
    from airflow_mesh.backfill.dag_runs import PlanNotExecutable
    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.summary import PlanSummary

    try:
        req = _request_from_args(args)
        plan = service.make_plan(req, _not_later_than_the_clock(args.now))
    except (ValidationError, ValueError) as err:
        print(_explain(err), file=sys.stderr)
        return 2
    preview = service.describe(plan, req, may_edit=None)
    for problem in preview["problems"]:
        print(f"error: {problem}", file=sys.stderr)
    if preview["problems"]:
        return 1
    _print_run_preview(plan, preview)
    if not (args.yes or _confirmed(plan)):
        print("Nothing done.")
        return 1
    try:
        accepted = jobs.submit(plan, req, f"cli:{getpass.getuser()}", preview["fingerprint"],
                                PlanSummary.model_validate(preview["summary"]))
    except PlanNotExecutable as err:
        print(f"error: nothing was changed: {err}", file=sys.stderr)
        return 1
    except jobs.JobConflict as err:
        print(f"error: {err.detail['message']}", file=sys.stderr)
        return 1
    print(f"Backfill job #{accepted.id} accepted ({plan.runs:,} runs in {len(plan.dags)} DAGs).")
    if not args.background:
        done = materialize_next(job_id=accepted.id)
        if done is not None:
            print(f"Job #{accepted.id}: {done[1].value}.")
    print(f"Follow it with 'airflow-mesh backfill status {accepted.id}'.")
    return 0


def cmd_backfill_status(args: argparse.Namespace) -> int:
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.jobs import get_job, list_jobs
    from airflow_mesh.backfill.progress import progress

    with create_session() as session:  # a read: final statuses are the materializer tick's to store
        if args.id is None:
            for r in list_jobs(session, 20):
                print(f"#{r['id']:<5} {r['status']:<13} {r['created_at'][:19]}  {r['user']:<16} {', '.join(r['roots'])}"
                      f"  [{r['start'][:16]}, {r['end'][:16]})  {r['total_runs']:,} runs")
            return 0
    with create_session() as session:
        record = get_job(session, args.id)
        if record is None:
            print(f"error: no mesh backfill job #{args.id}", file=sys.stderr)
            return 2
        p = progress(session, record)
    print(f"Backfill job #{args.id} by {record['user']}: {record['status']}"
          f"{' (' + record['status_reason'] + ')' if record['status_reason'] else ''}; {p['materializing']}; "
          f"{p['finished']:,} of {p['to_run']:,} runs finished, {p['failed_runs']} failed")
    for dag_id, d in p["dags"].items():
        r, t = d["runs"], d["tasks"]
        print(f"  wave {d['wave']}  {dag_id:<24} {d['materialized']:>6}/{d['planned']:<6} queued {r['queued']}, "
              f"running {r['running']}, succeeded {r['succeeded']}, failed {r['failed']}; tasks waiting "
              f"{t['waiting_for_upstream']}, retrying {t['retrying']}, failed {t['failed']}")
    return 0


def cmd_backfill_steer(args: argparse.Namespace) -> int:
    """pause | resume | cancel | retry a whole job (CLI = DB access, as Airflow's own CLI)."""
    import getpass

    from airflow_mesh.backfill import steering
    from airflow_mesh.backfill.jobs import JobConflict

    try:
        record = getattr(steering, args.backfill_command)(args.id, f"cli:{getpass.getuser()}")
    except LookupError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2
    except JobConflict as err:
        print(f"error: {err.detail['message']}", file=sys.stderr)
        return 1
    print(f"Backfill job #{args.id}: {record['status']}")
    if args.backfill_command == "resume" and record["status"] == "queued" and not args.background:
        from airflow_mesh.backfill.materialize import materialize_next

        done = materialize_next(job_id=args.id)  # an interrupted job: continue its materialization here
        if done is not None:
            print(f"Backfill job #{args.id}: {done[1].value}")
    return 0


def cmd_backfill_materialize(args: argparse.Namespace) -> int:
    """Materialize queued jobs (one, or all) in this process, then store final statuses (the API-server thread's
    tick): for deployments that keep it off the API servers."""
    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.steering import settle_active

    while True:
        done = materialize_next(job_id=args.job)
        if done is not None:
            print(f"Backfill job #{done[0]}: {done[1].value}")
        if done is None or args.job is not None:
            break
    settle_active()
    return 0


@reports_registry_errors
def cmd_diff(args: argparse.Namespace) -> int:
    """Contract changes between two versions of the registry; exit 1 on a breaking change whose
    ``mesh.version`` did not go up, 2 when a version cannot be read."""
    import json
    from dataclasses import asdict

    from airflow_mesh.core.registry import MeshValidationError
    from airflow_mesh.core.registry.contract_diff import diff_registries
    from airflow_mesh.governance.registry_versions import RegistryVersionError, registry_at

    repo = Path(args.repo).resolve()
    try:
        with registry_at(args.base, repo, args.path) as base_root, registry_at(args.head, repo, args.path) as head_root:
            sides = {}
            for side, root in (("base", base_root), ("head", head_root)):
                try:
                    sides[side] = load_mesh(root)
                except MeshValidationError as err:
                    print(f"error: the {side} registry ({getattr(args, side) or 'the working tree'}) is invalid:\n{err}",
                          file=sys.stderr)
                    return 2
    except RegistryVersionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    changes = diff_registries(sides["base"], sides["head"])
    refused = [c for c in changes if c.refused]
    if args.format == "json":
        print(json.dumps({"base": args.base, "head": args.head, "refused": len(refused),
                          "breaking": sum(c.kind == "breaking" for c in changes),
                          "changes": [asdict(c) | {"refused": c.refused} for c in changes]}, indent=2))
        return 1 if refused else 0
    _print_changes(changes, sides["head"])
    return 1 if refused else 0


def _print_changes(changes, head) -> None:
    breaking = [c for c in changes if c.kind == "breaking"]
    print(f"{len(changes)} contract change(s): {len(breaking)} breaking ({sum(c.refused for c in changes)} not "
          f"acknowledged), {len(changes) - len(breaking)} compatible")
    for c in changes:
        label = "BREAKING" if c.refused else "breaking (mesh.version raised)" if c.kind == "breaking" else "compatible"
        print(f"{c.file}:{c.line}: {label}: {c.table}: {c.what}")
        for r in c.reached:
            channel = f", channel {r.channel}" if r.channel else ""
            print(f"    reaches team {r.team} ({', '.join(r.contacts)}{channel}): tables {', '.join(r.tables)}; "
                  f"DAGs {', '.join(r.dags)}")
        if c.refused:
            now = head.tables[c.table].version if c.table in head.tables else None
            fix = (f"raise 'mesh.version' (now {now}) in {c.file} and agree the change with the teams above"
                   if now is not None else "keep the table, or agree its removal with the teams above first")
            print(f"    Fix: {fix}")


def _catalog(args: argparse.Namespace):
    from airflow_mesh.catalog.spark_catalog import SparkCatalog
    from airflow_mesh.settings import catalog_dir

    conf = {}
    for item in args.conf or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--conf {item!r} is not KEY=VALUE, e.g. --conf spark.hadoop.hive.metastore.uris=thrift://ms:9083")
        conf[key.strip()] = value
    return SparkCatalog(Path(args.catalog_dir) if args.catalog_dir else catalog_dir(), conf)


@reports_registry_errors
def cmd_schema_apply(args: argparse.Namespace) -> int:
    """Create or safely change every registered table in the Spark catalog; exit 1 (nothing applied) when
    any table is refused."""
    from airflow_mesh.catalog.apply import apply_schema

    mesh = load_mesh(args.root) if args.root else configured_mesh()
    try:
        catalog = _catalog(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        report = apply_schema(mesh, catalog, dry_run=args.dry_run)
    finally:
        catalog.close()
    for plan in report.tables:
        detail = "; ".join([s.what for s in plan.steps] + list(plan.notes))
        print(f"{plan.table:<34} {plan.action}{': ' + detail if detail else ''}")
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if report.errors:
        print("Nothing was applied.", file=sys.stderr)
        return 1
    if report.failure:
        print(f"error: {report.failure}. Applied before it: {'; '.join(report.done) or 'nothing'}. "
              "Fix the cause and run it again (what ran is not repeated)", file=sys.stderr)
        return 1
    print("Applied." if report.applied else "Dry run: nothing was applied.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import os

    from airflow_mesh.governance.check import check_folder

    if args.root:
        os.environ["AIRFLOW__MESH__ROOT"] = str(Path(args.root).resolve())
    folder = Path(args.dags_folder)
    if not folder.is_dir():
        print(f"error: {folder} is not a folder of DAG files", file=sys.stderr)
        return 2
    dags, findings = check_folder(folder)
    for f in findings:
        print(str(f), file=sys.stderr)
    if findings:
        print(f"\n{len(findings)} violation(s) in {folder} ({dags} DAG(s) imported)", file=sys.stderr)
        return 1
    print(f"OK: {dags} DAG(s) in {folder} follow the mesh's ownership rules")
    return 0


def cmd_sync_roles(args: argparse.Namespace) -> int:
    from airflow_mesh.governance.roles import sync_roles_from_db

    report = sync_roles_from_db(dry_run=args.dry_run)
    for line in report.lines():
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-mesh", description="Governed data mesh on Apache Airflow.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check teams/ and ddl/; exit 1 listing every error")
    p.add_argument("root", nargs="?", help="registry root (default: [mesh] root / AIRFLOW__MESH__ROOT)")
    p.add_argument("--spark", action="store_true", help="also have Spark itself parse every DDL (starts a local JVM)")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("show", help="owner, schema, producer and consumers of a table")
    p.add_argument("table")
    p.add_argument("--root")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("check", help="the cluster policy's ownership rules on a DAG folder, offline (for CI)")
    p.add_argument("dags_folder")
    p.add_argument("--root", help="registry root (default: [mesh] root / AIRFLOW__MESH__ROOT)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("schema", help="the registry's tables in a Spark catalog").add_subparsers(
        dest="schema_command", required=True).add_parser(
        "apply", help="create every table from its DDL, apply safe changes (add a column, comments); refuse the rest")
    p.add_argument("--root", help="registry root (default: [mesh] root)")
    p.add_argument("--dry-run", action="store_true", help="print the plan only")
    p.add_argument("--catalog-dir", help="embedded metastore and warehouse folder (default: [mesh] catalog_dir)")
    p.add_argument("--conf", action="append", help="Spark conf KEY=VALUE (repeatable), e.g. a shared metastore")
    p.set_defaults(func=cmd_schema_apply)
    p = sub.add_parser("diff", help="contract changes between two registry versions; exit 1 on an unacknowledged "
                                    "breaking change (for the registry's CI)")
    p.add_argument("base", help="a git ref of --repo (e.g. origin/main) or a registry folder")
    p.add_argument("head", nargs="?", help="a git ref or folder (default: the working tree of --repo)")
    p.add_argument("--repo", default=".", help="the registry's git repository (default: .)")
    p.add_argument("--path", default=".", help="where teams/ and ddl/ are inside --repo (default: its top)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("sync-roles", help="FabAuthManager: one role per team, edit on its DAGs, read on the others")
    p.add_argument("--dry-run", action="store_true", help="print the changes without making them")
    p.set_defaults(func=cmd_sync_roles)
    backfill = sub.add_parser("backfill", help="plan backfills across DAGs and schedules").add_subparsers(
        dest="backfill_command", required=True)
    p = backfill.add_parser("plan", help="every run of every downstream DAG a backfill of TABLES touches")
    p.add_argument("tables", nargs="+")
    p.add_argument("--start", type=_utc, required=True, help="start of the range (UTC), e.g. 2026-11-02")
    p.add_argument("--end", type=_utc, required=True, help="end of the range, exclusive (UTC)")
    p.add_argument("--no-downstream", action="store_true", help="only the given tables")
    p.add_argument("--depth", type=int, help="at most this many steps downstream")
    p.add_argument("--stop-at-team", action="append", help="do not plan tables of this team (repeatable)")
    p.add_argument("--now", type=_utc, help="treat this time (UTC) as now: periods ending after it are left out (default: the clock)")
    p.add_argument("--root")
    p.set_defaults(func=cmd_backfill_plan)
    p = backfill.add_parser("run", help="execute a backfill plan as a steerable job in this Airflow's metadata DB")
    p.add_argument("tables", nargs="+", help="tables, dag_id or dag_id.task_id")
    p.add_argument("--start", type=_utc, required=True)
    p.add_argument("--end", type=_utc, required=True)
    p.add_argument("--no-downstream", action="store_true")
    p.add_argument("--depth", type=int)
    p.add_argument("--stop-at-team", action="append")
    p.add_argument("--only-failed", action="store_true", help="skip existing runs whose tasks all succeeded")
    p.add_argument("--run-backwards", action="store_true", help="newest runs first")
    p.add_argument("--max-active-runs", type=int, help="runs of the job at once per DAG ([mesh] backfill_max_active_runs)")
    p.add_argument("--background", action="store_true", help="only accept the job; an API server materializes it")
    p.add_argument("--now", type=_utc, help="as for plan; not later than the clock (for reproducible runs and tests)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_backfill_run)
    p = backfill.add_parser("status", help="list mesh backfill jobs, or the status and progress of one")
    p.add_argument("id", type=int, nargs="?")
    p.set_defaults(func=cmd_backfill_status)
    for action, text in (("pause", "no new run of the job starts, in any of its DAGs"),
                         ("resume", "unpause; or continue an interrupted materialization"),
                         ("cancel", "fail its queued runs, terminate its running tasks"),
                         ("retry", "re-run only its failed and upstream-failed task instances")):
        p = backfill.add_parser(action, help=text)
        p.add_argument("id", type=int)
        if action == "resume":
            p.add_argument("--background", action="store_true",
                           help="only re-queue an interrupted job; an API server's materializer continues it")
        p.set_defaults(func=cmd_backfill_steer)
    p = backfill.add_parser("materialize", help="materialize queued jobs in this process (lease-claimed)")
    p.add_argument("--job", type=int, help="only this job")
    p.set_defaults(func=cmd_backfill_materialize)
    return parser


class NoMetadataDB(RuntimeError):
    """This machine's Airflow has no metadata DB to act on: refuse rather than create one."""


def require_metadata_db() -> None:
    """Refuse, naming the fix, unless Airflow's home and metadata DB exist and are migrated.

    Without this, a command run where no Airflow is configured would connect to the default
    ``~/airflow/airflow.db``, which SQLite creates empty, and report nothing.
    """
    import os

    if not (os.environ.get("AIRFLOW_HOME") or os.environ.get("AIRFLOW_CONFIG")
            or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
            or Path("~/airflow/airflow.cfg").expanduser().is_file()):
        raise NoMetadataDB("no Airflow is configured here (AIRFLOW_HOME is not set and ~/airflow/airflow.cfg does "
                           "not exist). Fix: set AIRFLOW_HOME to your Airflow's home (the folder holding airflow.cfg), "
                           "or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN to its metadata DB")
    from airflow.configuration import conf
    from sqlalchemy.engine import make_url

    url = make_url(conf.get("database", "sql_alchemy_conn"))
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).is_file():
        raise NoMetadataDB(f"Airflow's metadata DB {url.database} does not exist. Fix: point AIRFLOW_HOME at your "
                           "Airflow's home, or create the DB with 'airflow db migrate'")
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        migrated = inspect(engine).has_table("dag_run")
    except Exception as err:  # any driver error: the message names what is wrong (host, password, ...)
        raise NoMetadataDB(f"cannot reach Airflow's metadata DB {where}: {err}. Fix: check "
                           "[database] sql_alchemy_conn") from None
    finally:
        engine.dispose()
    if not migrated:
        raise NoMetadataDB(f"Airflow's metadata DB {where} has no Airflow tables. Fix: run 'airflow db migrate', "
                           "or point AIRFLOW_HOME at your Airflow's home")


def _needs_metadata_db(args: argparse.Namespace) -> bool:
    return args.command == "sync-roles" or (args.command == "backfill"
                                            and getattr(args, "backfill_command", None) in ("run", "status"))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if _needs_metadata_db(args):
            require_metadata_db()
        return args.func(args)
    except (MeshNotConfigured, MeshSettingError, NoMetadataDB) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
