"""Fault drills: break Redis, the Celery worker and PostgreSQL while the
portal takes submissions and registry imports, then reconcile.

    .venv/bin/python bench/drills.py                      # the three drills on a private stack (~3 min)
    .venv/bin/python bench/drills.py --drills postgres    # one of redis, worker, postgres
    .venv/bin/python bench/drills.py --server-url postgis://gisportal:gisportal@127.0.0.1:5432/
                                     # a fresh database on that server instead of a private cluster
                                     # (the postgres drill is then skipped: never restart a shared server)

The stack is the script's own, on loopback: a private PostgreSQL cluster
(initdb as the `postgres` user) or a fresh database on the server named,
migrated and loaded with the demo data; a private redis-server (append-only
file, as a production broker) that is the broker (/0) and the cache (/1);
the production start (gisportal/serving.py, 3 workers x 1 thread) with the test settings; a Celery worker (solo pool)
and Celery beat. Files go to a scratch folder.

Each drill drives traffic as real clients would: citizens submitting dossiers
(`POST /api/v1/dossiers/`, multipart with a PDF, an `Idempotency-Key` per
dossier, retried with backoff on connection errors, 5xx and 429, honouring
Retry-After, up to --give-up-s), and an official uploading a CSV into a
registry layer (`POST /api/v1/layers/drill-points/imports/`, append mode,
retried the same way). In the middle:

- redis:    redis-server stopped (SIGTERM) for --outage-s, then started again;
- worker:   the worker killed (SIGKILL) while an import runs, a new one started;
- postgres: the cluster stopped (fast shutdown) for --outage-s, then started.

Then the traffic stops, the script waits up to --settle-s for import jobs to
end, and reconciles (gisportal/operations/reconcile.py): every dossier the
server accepted exists exactly once with the event that created it (an online
submission: `submit`, waiting for receipt) and its attachment,
every import job ended `succeeded` or `failed`, the layer holds the rows its
succeeded jobs imported, and the indicator and density counters equal a
rebuild. It prints the figures of each drill, and as its last line a JSON
object with all of them; the exit status is 1 if any drill found a fault.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
from common import (
    ROOT,
    conninfo_from_url,
    drop_database,
    ensure_database,
    exit_on_sigterm,
    free_port,
    production_profile,
    say,
    url_with_db,
)

# `common` put the project on sys.path.
from tests.clusters import PrivateCluster, private_cluster_unavailable  # noqa: E402
from tests.processes import CELERY, PrivateRedis, celery_worker_command  # noqa: E402

DRILLS = ("redis", "worker", "postgres")
MARKER = "bench/drills.py scratch database"
LAYER = "drill-points"
NOTE_PREFIX = "drill:"
PROCEDURE = "1.009374"  # in the demo catalogue
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PASSWORD = "x-Drill-pass-1"
# The outbox and reaper of the job queue read these (gisportal/outbox.py);
# short, so that a drill settles in seconds rather than minutes.
OUTBOX_ENV = {
    "OUTBOX_HEARTBEAT_S": "1",
    "OUTBOX_STALE_AFTER_S": "8",
    "OUTBOX_SWEEP_EVERY_S": "2",
    "OUTBOX_REPUBLISH_AFTER_S": "20",
}
SETTINGS = "gisportal.settings.test"


# --------------------------------------------------------------------------- processes


class Child:
    """A process of the stack, its output in `logs/<name>.log`."""

    def __init__(self, name: str, argv: list[str], *, env: dict, logs: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a pulled plug would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _wait_for(condition, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout_s:.0f} s")
        time.sleep(0.1)


# --------------------------------------------------------------------------- the stack


class Stack:
    def __init__(self, args):
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="gisportal-drills-"))
        self.logs = self.workdir / "logs"
        self.logs.mkdir()
        self.cluster: PrivateCluster | None = None
        self.server_db: tuple[str, str] | None = None  # (server conninfo, database) on a named server
        self.redis = PrivateRedis(self.workdir / "redis", persistent=True)
        self.children: dict[str, Child] = {}
        self.base_url = ""

    # --- database
    def database_url(self) -> str:
        if self.args.server_url:
            name = f"gisportal_drills_{os.getpid()}"
            server = conninfo_from_url(self.args.server_url, "postgres")
            ensure_database(server, name, marker=MARKER)
            self.server_db = (server, name)
            return url_with_db(self.args.server_url, name)
        self.cluster = PrivateCluster(log_name="postgresql.log")
        self.cluster.start()
        return self.cluster.create_database("drills")

    def env(self, database_url: str) -> dict[str, str]:
        return {
            **os.environ,
            **OUTBOX_ENV,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DATABASE_URL": database_url,
            "REDIS_URL": self.redis.url(0),
            "CACHE_URL": self.redis.url(1),
            "DJANGO_MEDIA_ROOT": str(self.workdir / "media"),
            "DOSSIER_FILES_ROOT": str(self.workdir / "private"),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> None:
        t0 = time.perf_counter()
        url = self.database_url()
        env = self.env(url)
        os.environ.update(env)  # Django in this process: setup and reconciliation
        import django

        django.setup()
        from django.core.management import call_command

        say("migrating and loading the demo data (no dossier history) ...")
        call_command("migrate", verbosity=0)
        call_command("load_demo", dossiers=0, verbosity=0)
        self.tokens = _drill_accounts()
        self.redis.start()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        argv, _ = production_profile(workers=self.args.web_workers, threads=1)
        self.children = {
            "web": Child("web", [a.replace("{port}", str(port)) for a in argv], env=env, logs=self.logs),
            "worker": Child("worker", celery_worker_command(loglevel="INFO"), env=env, logs=self.logs),
            "beat": Child(
                "beat",
                [
                    str(CELERY),
                    "-A",
                    "gisportal",
                    "beat",
                    "--schedule",
                    str(self.workdir / "beat-schedule"),
                    "--loglevel",
                    "INFO",
                ],
                env=env,
                logs=self.logs,
            ),
        }
        for child in self.children.values():
            child.start()
        _wait_for(self._serving, timeout_s=60, what="the server did not serve")
        _wait_for(
            lambda: " ready." in self.children["worker"].log_path.read_text(),
            timeout_s=60,
            what="the worker was not ready",
        )
        say(f"stack up in {time.perf_counter() - t0:.0f} s: {self.describe()}")

    def _serving(self) -> bool:
        web = self.children["web"].process
        if web is not None and web.poll() is not None:
            raise RuntimeError(f"the server exited:\n{self.children['web'].log_tail()}")
        try:
            return requests.get(f"{self.base_url}/api/v1/procedures/?limit=1", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def describe(self) -> str:
        database = (
            f"private cluster on port {self.cluster.port}"
            if self.cluster
            else f"{self.server_db[1]} on the named server"
        )
        return f"{database}, redis on {self.redis.port}, the server at {self.base_url}, files in {self.workdir}"

    def stop(self, *, keep_logs: bool = False) -> None:
        """Stops what it started; the database is dropped unless --keep, the
        scratch folder (logs) kept with --keep or `keep_logs`."""
        for child in self.children.values():
            child.stop()
        self.redis.stop()
        from django.db import connections

        connections.close_all()
        if self.cluster is not None:
            self.cluster.destroy()
        if self.server_db is not None:
            if self.args.keep:
                say(f"kept the database {self.server_db[1]}")
            else:
                drop_database(self.server_db[0], self.server_db[1], marker=MARKER)
        if self.args.keep or keep_logs:
            say(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _drill_accounts() -> dict[str, str]:
    """A citizen and an official of the agency owning the drill layer (so its
    editor), with API tokens; the layer."""
    from gisportal.accounts.models import Agency, Role
    from gisportal.accounts.services import api_token_create, user_ensure
    from layers.models import GeometryType, Visibility
    from layers.registries.services import layer_create_or_update

    owner = Agency.objects.get(code="so-y-te")
    citizen = user_ensure(username="drill-citizen", password=PASSWORD, role=Role.CITIZEN)
    official = user_ensure(username="drill-official", password=PASSWORD, role=Role.PROCESSING_OFFICER, agency=owner)
    layer_create_or_update(
        slug=LAYER,
        title="Điểm diễn tập / Drill points",
        owner=owner,
        geometry_type=GeometryType.POINT,
        schema=[{"name": "name", "type": "string"}, {"name": "n", "type": "integer"}],
        visibility=Visibility.INTERNAL,
    )
    return {name: api_token_create(user=user)[1] for name, user in (("citizen", citizen), ("official", official))}


# --------------------------------------------------------------------------- clients


@dataclass
class Tally:
    """What one kind of client saw during a drill."""

    requests: int = 0
    accepted: int = 0
    replayed: int = 0
    retried: int = 0
    gave_up: int = 0
    errors: Counter = field(default_factory=Counter)  # HTTP status, or "connection"
    slowest_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def figures(self) -> dict:
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "replayed": self.replayed,
            "retried": self.retried,
            "gave_up": self.gave_up,
            "errors": dict(sorted(self.errors.items())),
            "slowest_s": round(self.slowest_s, 2),
        }


def post_with_retries(session: requests.Session, url: str, *, tally: Tally, give_up_s: float, **kwargs):
    """POST as a patient client: retried on connection errors, 5xx and 429
    with backoff (or the server's Retry-After); the response, or None after
    `give_up_s`."""
    started = time.monotonic()
    delay = 0.25
    attempt = 0
    while True:
        began = time.monotonic()
        try:
            response = session.post(url, timeout=(5, 120), **kwargs)
        except requests.RequestException:
            response, outcome = None, "connection"
        else:
            outcome = str(response.status_code)
        with tally.lock:
            tally.requests += 1
            tally.retried += attempt > 0
            tally.slowest_s = max(tally.slowest_s, time.monotonic() - began)
            if response is not None and response.status_code < 500 and response.status_code != 429:
                if response.status_code >= 400:
                    tally.errors[outcome] += 1
                return response
            tally.errors[outcome] += 1
        if time.monotonic() - started > give_up_s:
            with tally.lock:
                tally.gave_up += 1
            return None
        retry_after = response.headers.get("Retry-After", "") if response is not None else ""
        wait = float(retry_after) if retry_after.isdigit() else delay
        time.sleep(min(wait, 5.0) * random.uniform(0.8, 1.2))
        delay = min(delay * 2, 4.0)
        attempt += 1


class Traffic:
    """Citizens submitting dossiers and an official importing files, until stopped."""

    def __init__(self, stack: Stack, drill: str, *, csv: bytes):
        self.stack, self.drill, self.csv = stack, drill, csv
        self.args = stack.args
        self.submissions, self.imports = Tally(), Tally()
        self.accepted: dict[str, str] = {}  # idempotency key -> dossier code
        self.job_ids: list[int] = []
        self.running = threading.Event()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._submitter, args=(i,), name=f"citizen-{i}") for i in range(self.args.clients)
        ] + [threading.Thread(target=self._importer, name="importer")]

    def start(self) -> None:
        self.running.set()
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.running.clear()
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _submitter(self, index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.stack.tokens['citizen']}"
        rng = random.Random(f"{self.drill}-{index}")
        n = 0
        while self.running.is_set():
            n += 1
            key = f"{self.drill}-{index}-{n}"
            data = {
                "procedure": PROCEDURE,
                "applicant_name": f"Người diễn tập {index}-{n}",
                "applicant_id_number": "027095001234",
                "applicant_address": "Số 1 đường Lý Thái Tổ, Bắc Ninh",
                "channel": "2",
                "receiving_point": "CENTRE-MAIN",
                "lon": f"{rng.uniform(106.03, 106.10):.6f}",
                "lat": f"{rng.uniform(21.15, 21.20):.6f}",
                "note": NOTE_PREFIX + key,
            }
            response = post_with_retries(
                session,
                f"{self.stack.base_url}/api/v1/dossiers/",
                tally=self.submissions,
                give_up_s=self.args.give_up_s,
                data=data,
                files=[("attachments", (f"don-{key}.pdf", PDF + key.encode(), "application/pdf"))],
                headers={"Idempotency-Key": key},
            )
            if response is not None and response.status_code in (200, 201):
                with self.submissions.lock:
                    self.accepted[key] = response.json()["code"]
                    self.submissions.accepted += 1
                    self.submissions.replayed += response.status_code == 200

    def _importer(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.stack.tokens['official']}"
        n = 0
        while self.running.is_set():
            n += 1
            response = post_with_retries(
                session,
                f"{self.stack.base_url}/api/v1/layers/{LAYER}/imports/",
                tally=self.imports,
                give_up_s=self.args.give_up_s,
                data={"mode": "append"},
                files={"file": (f"{self.drill}-{n}.csv", self.csv, "text/csv")},
            )
            if response is not None and response.status_code == 202:
                with self.imports.lock:
                    self.job_ids.append(response.json()["id"])
                    self.imports.accepted += 1
            self.stopping.wait(self.args.import_every_s)


def import_csv(rows: int, *, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    lines = ["lon,lat,name,n"]
    lines += [f"{rng.uniform(105.95, 106.25):.6f},{rng.uniform(21.02, 21.25):.6f},Điểm {i},{i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------- drills


def _fresh_connection() -> None:
    """The drill's own connection may be stale after the postgres drill."""
    from django.db import close_old_connections

    close_old_connections()


def _job_in_first_half() -> int | None:
    """The id of a drill job that is running and not half done, if any: a kill
    then surely lands in the middle of the import, not after its commit."""
    from django.db.models import F, Q

    from layers.models import ImportJob

    _fresh_connection()
    return (
        ImportJob.objects.filter(layer__slug=LAYER, status=ImportJob.Status.RUNNING)
        .filter(Q(rows_total__isnull=True) | Q(rows_done__lt=F("rows_total") / 2))
        .values_list("pk", flat=True)
        .first()
    )


def fault(stack: Stack, drill: str) -> dict:
    """Breaks one part; returns what was done and how long it took."""
    args = stack.args
    started = time.monotonic()
    note = {}
    if drill == "redis":
        stack.redis.stop()
        time.sleep(args.outage_s)
        stack.redis.start()
    elif drill == "worker":
        deadline = time.monotonic() + 30
        job = _job_in_first_half()
        while job is None and time.monotonic() < deadline:
            time.sleep(0.02)
            job = _job_in_first_half()
        stack.children["worker"].kill()
        note["job_running_at_kill"] = job is not None
        if job is not None:
            from layers.models import ImportJob

            note["killed_job_status_after_kill"] = ImportJob.objects.get(pk=job).status
        time.sleep(2)
        stack.children["worker"].start()
    elif drill == "postgres":
        stack.cluster.stop("fast")
        time.sleep(args.outage_s)
        stack.cluster.start()
    return {"fault": drill, "fault_s": round(time.monotonic() - started, 1), **note}


def settle(settle_s: float, *, created_from) -> float | None:
    """Waits until no job of this drill is queued or running; the seconds it
    took, or None."""
    from layers.models import ImportJob

    started = time.monotonic()
    open_jobs = ImportJob.objects.filter(
        layer__slug=LAYER, created_at__gte=created_from, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
    )
    while time.monotonic() - started < settle_s:
        _fresh_connection()
        if not open_jobs.exists():
            return round(time.monotonic() - started, 1)
        time.sleep(0.5)
    return None


def run_drill(stack: Stack, drill: str, csv: bytes) -> dict:
    from django.utils import timezone

    from gisportal.operations.reconcile import counters_reconcile, dossiers_reconcile, import_jobs_reconcile

    args = stack.args
    say(f"[{drill}] traffic for {args.before_s:g} s, then the fault ...")
    _fresh_connection()
    began_at = timezone.now()
    traffic = Traffic(stack, drill, csv=csv)
    traffic.start()
    try:
        time.sleep(args.before_s)
        what = fault(stack, drill)
        time.sleep(args.after_s)
    finally:
        traffic.stop()
    settled = settle(args.settle_s, created_from=began_at)
    _fresh_connection()
    dossiers = dossiers_reconcile(accepted=traffic.accepted, note_prefix=NOTE_PREFIX, key_prefix=f"{drill}-")
    jobs = import_jobs_reconcile(layer_slug=LAYER, created_from=began_at, job_ids=traffic.job_ids)
    counters = counters_reconcile()
    figures = {
        **what,
        "submissions": traffic.submissions.figures(),
        "dossiers": {**dossiers, "missing": len(dossiers["missing"])},
        "imports": traffic.imports.figures(),
        "jobs": {**jobs, "accepted_missing": len(jobs["accepted_missing"]), "settled_s": settled},
        "counters_off": counters,
    }
    figures["faults_found"] = faults_found(figures)
    return figures


def faults_found(figures: dict) -> list[str]:
    """What went wrong, in words; empty when the drill found nothing."""
    found = []
    d, j = figures["dossiers"], figures["jobs"]
    for name in ("missing", "duplicates", "code_mismatch", "receive_event_not_one", "attachment_files_missing"):
        if d[name]:
            found.append(f"dossiers {name}: {d[name]}")
    if j["stuck"]:
        found.append(f"import jobs stuck queued/running: {j['stuck']}")
    if j["accepted_missing"]:
        found.append(f"import jobs answered 202 but absent: {j['accepted_missing']}")
    if j["features_minus_imported"]:
        found.append(f"layer rows minus rows imported by succeeded jobs: {j['features_minus_imported']}")
    for table, off in figures["counters_off"].items():
        if off:
            found.append(f"{table} rows off from a rebuild: {off}")
    for kind in ("submissions", "imports"):
        server_errors = {s: n for s, n in figures[kind]["errors"].items() if s.startswith("5") and s != "503"}
        if server_errors:
            found.append(f"{kind} answered {server_errors}")
    return found


def print_drill(drill: str, f: dict) -> None:
    s, d, i, j = f["submissions"], f["dossiers"], f["imports"], f["jobs"]
    say(
        f"[{drill}] fault: {f['fault_s']} s"
        + (f", a job was running at the kill: {f['job_running_at_kill']}" if "job_running_at_kill" in f else "")
    )
    say(
        f"  submissions: {s['requests']} requests, {s['accepted']} accepted ({s['replayed']} replayed), "
        f"{s['retried']} retries, gave up {s['gave_up']}, errors {s['errors']}, slowest {s['slowest_s']} s"
    )
    say(
        f"  dossiers: {d['found']} of {d['accepted']} accepted found, {d['missing']} missing, "
        f"{d['duplicates']} duplicates, "
        f"{d['unacknowledged']} unacknowledged, {d['receive_event_not_one']} without exactly one creating event, "
        f"{d['attachment_files_missing']} attachment files missing"
    )
    say(
        f"  imports: {i['requests']} requests, {i['accepted']} accepted, {i['retried']} retries, "
        f"gave up {i['gave_up']}, "
        f"errors {i['errors']}; jobs {j['by_status']}, stuck {j['stuck']} "
        f"({'settled in ' + str(j['settled_s']) + ' s' if j['settled_s'] is not None else 'not settled'}); "
        f"layer rows - imported rows: {j['features_minus_imported']}"
    )
    say(f"  counters off from a rebuild: {f['counters_off']}")
    say(f"  faults found: {'; '.join(f['faults_found']) or 'none'}")


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drills", default=",".join(DRILLS), help="comma-separated, in order (default: all)")
    parser.add_argument(
        "--server-url", help="a PostgreSQL server to create a fresh database on, instead of a private cluster"
    )
    parser.add_argument("--clients", type=int, default=4, help="citizens submitting at once")
    parser.add_argument("--import-rows", type=int, default=50_000, help="rows per uploaded CSV")
    parser.add_argument("--import-every-s", type=float, default=2.0)
    parser.add_argument("--before-s", type=float, default=4.0, help="traffic before the fault")
    parser.add_argument("--outage-s", type=float, default=8.0, help="how long Redis or PostgreSQL stays down")
    parser.add_argument("--after-s", type=float, default=6.0, help="traffic after the fault")
    parser.add_argument(
        "--give-up-s", type=float, default=60.0, help="a client gives up a request after retrying this long"
    )
    parser.add_argument("--settle-s", type=float, default=60.0, help="wait this long for import jobs to end")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the logs, and the database on a named server")
    args = parser.parse_args()
    drills = [d.strip() for d in args.drills.split(",") if d.strip()]
    unknown = set(drills) - set(DRILLS)
    if unknown:
        parser.error(f"unknown drills: {', '.join(sorted(unknown))}")
    skipped = {}
    if args.server_url and "postgres" in drills:
        drills.remove("postgres")
        skipped["postgres"] = "a named server is never restarted; use the private cluster"
    elif not args.server_url and private_cluster_unavailable():
        sys.exit(f"no private cluster here: {private_cluster_unavailable()}; give --server-url")
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    # Celery's Django fix-up puts the working folder first on sys.path: from
    # bench/, `dossiers` would be bench/dossiers.py instead of the app.
    os.chdir(ROOT)

    stack = Stack(args)
    results: dict[str, dict] = {}
    try:
        stack.start()
        csv = import_csv(args.import_rows)
        for drill in drills:
            results[drill] = run_drill(stack, drill, csv)
            print_drill(drill, results[drill])
    finally:
        keep_logs = args.keep or any(r["faults_found"] for r in results.values())
        if keep_logs:
            say("logs: " + ", ".join(str(c.log_path) for c in stack.children.values()))
        stack.stop(keep_logs=keep_logs)
    summary = {
        "drills": results,
        "skipped": skipped,
        "faults_found": {drill: len(r["faults_found"]) for drill, r in results.items()},
        "settings": {"clients": args.clients, "import_rows": args.import_rows, "outage_s": args.outage_s, **OUTBOX_ENV},
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if any(r["faults_found"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
