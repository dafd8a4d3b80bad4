"""Pieces shared by the benchmarks in bench/: their own scratch database, servers
they start and always stop, child processes measured for time and peak memory,
and percentiles.

Each benchmark works in a database of its own, created from template_postgis
and marked with a comment naming the script; a database without that exact
marker is never truncated or dropped.
"""

import gc
import http.client
import io
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql as pgsql  # noqa: E402


def say(text: str = "") -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------- database


def main_database_url() -> str:
    from gisportal.settings import env as project_env  # the project's one reader of env and .env

    return project_env.get("DATABASE_URL", "postgis://gisportal:gisportal@127.0.0.1:5432/gisportal")


def conninfo_from_url(url: str, dbname: str | None = None) -> str:
    parts = urlsplit(url)
    return psycopg.conninfo.make_conninfo(
        host=parts.hostname or "",
        port=str(parts.port or 5432),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        dbname=dbname or unquote(parts.path.lstrip("/")),
    )


def url_with_db(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path="/" + dbname).geturl()


def db_params(url: str, dbname: str) -> dict:
    """host, port, dbname, user, password: for tools that are not psycopg (ogr2ogr, pygeoapi)."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "dbname": dbname,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
    }


def _database_comment(conn, name: str) -> tuple[bool, str | None]:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
    ).fetchone()
    return (row is not None, row[0] if row else None)


def ensure_database(main_conninfo: str, name: str, *, marker: str) -> bool:
    """Create the database from template_postgis unless it exists. True if created.

    An existing database is used only if it carries `marker`: a mistyped
    --db-name must never point a TRUNCATE at somebody's data."""
    with psycopg.connect(main_conninfo, autocommit=True) as conn:
        exists, comment = _database_comment(conn, name)
        if exists:
            if comment != marker:
                sys.exit(f"database {name!r} exists but is not marked {marker!r}; refusing to touch it")
            return False
        ident = pgsql.Identifier(name)
        conn.execute(pgsql.SQL("CREATE DATABASE {} TEMPLATE template_postgis").format(ident))
        conn.execute(pgsql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, pgsql.Literal(marker)))
        return True


def drop_database(main_conninfo: str, name: str, *, marker: str) -> bool:
    with psycopg.connect(main_conninfo, autocommit=True) as conn:
        exists, comment = _database_comment(conn, name)
        if not exists:
            return False
        if comment != marker:
            sys.exit(f"database {name!r} is not marked {marker!r}; refusing to drop it")
        conn.execute(pgsql.SQL("DROP DATABASE {}").format(pgsql.Identifier(name)))
        return True


def migrate(bench_url: str, settings_module: str) -> None:
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_SETTINGS_MODULE": settings_module}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def scratch_database(db_name: str | None, *, default_suffix: str) -> tuple[str, str, str]:
    """(main database URL, scratch database name, scratch database URL).

    The name is `db_name` or "<main db>_<default_suffix>", never the main
    database itself."""
    main_url = main_database_url()
    main_db = unquote(urlsplit(main_url).path.lstrip("/"))
    bench_db = db_name or f"{main_db}_{default_suffix}"
    if bench_db == main_db:
        sys.exit(f"refusing to benchmark in the main database {main_db!r}")
    return main_url, bench_db, url_with_db(main_url, bench_db)


def prepare_database(main_url: str, bench_db: str, *, marker: str, recreate: bool, settings_module: str) -> None:
    """The marked scratch database, dropped first if `recreate`, created from
    template_postgis if missing, and migrated."""
    main_conninfo = conninfo_from_url(main_url)
    if recreate and drop_database(main_conninfo, bench_db, marker=marker):
        say(f"dropped {bench_db}")
    if ensure_database(main_conninfo, bench_db, marker=marker):
        say(f"created {bench_db} from template_postgis")
    t = time.perf_counter()
    migrate(url_with_db(main_url, bench_db), settings_module)
    say(f"migrations applied ({time.perf_counter() - t:.1f} s)")


def django_setup(*, settings_module: str, bench_url: str, bench_db: str) -> None:
    """Django in this process, on the scratch database, with DEBUG off."""
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ["DATABASE_URL"] = bench_url
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if settings.DEBUG:
        sys.exit(f"{settings_module} has DEBUG=True: every query would be stored, skewing timings")
    if connection.settings_dict["NAME"] != bench_db:
        sys.exit(f"Django is connected to {connection.settings_dict['NAME']!r}, not {bench_db!r}")


def use_database(name: str) -> None:
    """Django's default connection moved to another scratch database of this
    benchmark (closed here; the next query opens it there)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


# --------------------------------------------------------------------------- statistics


def floor_session(conn: psycopg.Connection) -> psycopg.Connection:
    """`conn`, its session set up as the portal sets up its own (gisportal/dbsession.py: the backend
    keeps the memory its statements use). A floor in a backend that gives it back after every
    statement would be slower than ours for a reason that is not its work, and a backend that once ran
    VACUUM would be faster (bench/README.md, 7 December 2026)."""
    from django.conf import settings

    from gisportal.dbsession import session_warm_raw

    session_warm_raw(conn, settings.DATABASE_SESSION_WARM_BYTES)  # the benches call it after django_setup
    return conn


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(samples_ns: list[int]) -> dict:
    ms = [s / 1e6 for s in samples_ns]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": sum(ms) / len(ms),
        "min": min(ms),
        "n": len(ms),
    }


def time_interleaved(modes: dict, warmup_points, points, rounds: int) -> tuple[dict, list[dict]]:
    """Every mode on every point (a tuple of the mode's arguments), the modes
    taking turns point by point in an order shuffled for each point (a
    rotation made one mode nearly always follow the slowest one, and that mode
    came out 2-3x slower than alone), in `rounds` passes over the points. Returns ns samples per mode, and each
    pass's p50 in ms per mode (the spread between passes)."""
    for run in modes.values():
        for point in warmup_points:
            run(*point)
    names = list(modes)
    shuffle = random.Random(7).shuffle
    samples: dict[str, list[int]] = {name: [] for name in names}
    per_round = []
    clock = time.perf_counter_ns
    for _round in range(rounds):
        gc.collect()
        # The cyclic collector off while timing: it would run at whatever allocation crosses its
        # threshold, charging one mode (the one after a mode heavy in Python) with the
        # others' garbage. Collected between rounds instead, untimed, for every mode alike.
        gc.disable()
        this_round: dict[str, list[int]] = {name: [] for name in names}
        try:
            for point in points:
                order = names[:]
                shuffle(order)
                for name in order:
                    t0 = clock()
                    modes[name](*point)
                    this_round[name].append(clock() - t0)
        finally:
            gc.enable()
        for name, values in this_round.items():
            samples[name].extend(values)
        per_round.append({name: percentile(values, 50) / 1e6 for name, values in this_round.items()})
    return samples, per_round


# --------------------------------------------------------------------------- child processes


@dataclass
class Measured:
    returncode: int
    wall_s: float
    max_rss_bytes: int
    log_path: str

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])


TIME_BIN = "/usr/bin/time"


def settle(conninfo: str, tables: list[str]) -> str | None:
    """VACUUM (ANALYZE) of each of `tables` that exists, then a CHECKPOINT:
    what autovacuum and the checkpointer would do over the next minutes
    after an import (on 2 cores, beside the timed parts), done now. None if
    all done, else why the CHECKPOINT was not (`checkpoint`)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in tables:
            if conn.execute("SELECT to_regclass(%s)", [table]).fetchone()[0] is not None:
                conn.execute(pgsql.SQL("VACUUM (ANALYZE) {}").format(pgsql.Identifier(table)))
    return checkpoint(conninfo)


def checkpoint(conninfo: str) -> str | None:
    """A CHECKPOINT, so that what an import left dirty is written out before
    the timed parts rather than during them: as the bench's role (it needs
    pg_checkpoint), else as the server's superuser `postgres` if this client
    may connect as it (a local server with trust authentication). None if
    done, else why not (to print among the notes)."""
    for extra in ({}, {"user": "postgres", "password": ""}):
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=3, **extra) as conn:
                conn.execute("CHECKPOINT")
            return None
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0]
    return f"no CHECKPOINT after the import ({reason})"


def run_measured(argv: list[str], *, env: dict | None = None, cwd: Path = ROOT, log_prefix: str = "bench-") -> Measured:
    """Run a command to completion; wall time and its own peak RSS.

    The peak comes from GNU time (`/usr/bin/time -f %M`), which forks the
    command from its own small process. Linux keeps a process's RSS high-water
    mark across exec, so a command forked straight from this script would
    report at least this script's RSS at the fork (it was 513 MiB after the
    GeoPackage was generated), whatever the command used. Without GNU time
    (Debian package `time`) the peak is left out (-1)."""
    log_fd, log_path = tempfile.mkstemp(prefix=log_prefix, suffix=".log")
    rss_fd, rss_path = tempfile.mkstemp(prefix=log_prefix, suffix=".rss")
    os.close(rss_fd)
    have_time = os.access(TIME_BIN, os.X_OK)
    wrapped = [TIME_BIN, "-f", "%M", "-o", rss_path, *argv] if have_time else argv
    t0 = time.perf_counter()
    proc = subprocess.Popen(wrapped, cwd=cwd, env=env, stdout=log_fd, stderr=subprocess.STDOUT, start_new_session=True)
    os.close(log_fd)
    try:
        proc.wait()
    except BaseException:
        # Interrupted (SIGTERM, ^C): stop what we started, then unwind.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    wall = time.perf_counter() - t0
    max_rss = -1
    if have_time:
        # GNU time writes "Command exited with non-zero status N" first when it fails.
        lines = Path(rss_path).read_text().split()
        max_rss = int(lines[-1]) * 1024 if lines and lines[-1].isdigit() else -1  # %M is in KiB
    Path(rss_path).unlink(missing_ok=True)
    return Measured(proc.returncode, wall, max_rss, log_path)


def file_warm(path: Path) -> None:
    """Read the file once so that every importer timed after this reads it
    from the page cache: none of them pays for the cold read alone."""
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass


def ogr2ogr_import(gpkg: Path, params: dict, *, layer: str, table: str, log_prefix: str = "bench-ogr2ogr-") -> Measured:
    """The GDAL baseline of both import benches: `ogr2ogr -f PostgreSQL` into
    a new table `table` (COPY, a GiST index on `geom`, no validation), the
    password through PGPASSWORD, not the command line. Raises on failure."""
    pg = f"PG:host={params['host']} port={params['port']} dbname={params['dbname']} user={params['user']}"
    argv = ["ogr2ogr", "-f", "PostgreSQL", pg, str(gpkg), layer, "-lco", "GEOMETRY_NAME=geom"]
    argv += ["-lco", "SPATIAL_INDEX=GIST", "-nln", table, "-overwrite", "--config", "PG_USE_COPY", "YES"]
    m = run_measured(argv, env={**os.environ, "PGPASSWORD": params["password"]}, log_prefix=log_prefix)
    tail = m.log_tail()
    Path(m.log_path).unlink(missing_ok=True)
    if m.returncode != 0:
        raise RuntimeError(f"ogr2ogr failed ({m.returncode}):\n{tail}")
    return m


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on a free loopback port; stop() is safe to call more than once.

    `argv` may contain "{port}", replaced by the chosen port. The process gets
    its own session, so stopping it kills only what this script started."""

    def __init__(self, argv: list[str], *, env: dict, cwd: Path = ROOT, name: str = "server"):
        self.name = name
        self.port = free_port()
        log_fd, self.log_path = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")
        self.proc = subprocess.Popen(
            [a.replace("{port}", str(self.port)) for a in argv],
            cwd=cwd,
            env=env,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(log_fd)

    def wait_ready(self, path: str, timeout: float = 60.0, headers: dict | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", path, headers=headers or {})
                response = conn.getresponse()
                body = response.read()
                conn.close()
                if response.status == 200:
                    return
                raise RuntimeError(f"{self.name} answered {response.status} {body[:300]!r}:\n{self.log_tail()}")
            except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: a server master stops its workers
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only what we started
                self.proc.wait(timeout=5)
        Path(self.log_path).unlink(missing_ok=True)


def private_redis() -> Server:
    """A redis-server of the script's own (production's broker and cache)."""
    return Server(
        ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        env=dict(os.environ),
        name="redis",
    )


class KeepAliveClient:
    """One HTTP/1.1 connection kept alive, on a raw socket: a request costs
    the client a send and a few reads, so the client is not what is measured
    (http.client read a 250 KB items page in 0.85 ms more, its headers through
    the email parser and its body through a buffered reader). Bodies by
    Content-Length or chunked. After the server closes the connection
    (Connection: close) the next request opens a new one (`reconnects`)."""

    def __init__(self, port: int):
        self.port = port
        self.sock = None
        self.reconnects = 0
        self._buf = b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""

    def _more(self, what: str) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError(f"server closed the connection {what}")
        self._buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._more("mid-body")
        taken, self._buf = self._buf[:n], self._buf[n:]
        return taken

    def _line(self) -> bytes:
        while b"\r\n" not in self._buf:
            self._more("mid-body")
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def get(self, request: bytes) -> tuple[int, bytes]:
        status, body, _ = self.get_response(request)
        return status, body

    def get_response(self, request: bytes) -> tuple[int, bytes, dict[bytes, bytes]]:
        """`request`: the whole request, bytes. Its status, body and headers (lower-case names)."""
        if self.sock is None:
            self._connect()
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self._buf:
            self._more("before the answer's head")
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, up to the empty line
                pass
            body = b"".join(parts)
        else:
            body = self._take(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
            self.reconnects += 1
        return status, body, headers

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def wsgi_get(application, path: str, query: str = "", headers: dict | None = None) -> tuple[str, bytes]:
    """A GET answered by the WSGI `application` in this process, as a server calls it: the body read
    whole, then closed (Django's handler sends request_finished, a lean tile is kept in the caches).
    `headers`: more of the environ (HTTP_...). Its status line and body."""
    status = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **(headers or {}),
    }
    result = application(environ, lambda line, response_headers, exc_info=None: status.append(line))
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return status[0], body


def production_profile(*, workers: int | None = None, threads: int | None = None) -> tuple[list[str], dict]:
    """The command line of the production start as `./portal serve
    --production` runs it (`python -m gisportal.serving`: Granian, cores + 1
    workers x 4 threads, the application preloaded, the access log), bound to
    "{port}" (Server), with only what a bench option asks overridden; and
    what it is. The caller's environment may carry WEB_PRELOAD=0
    (`production_env(..., WEB_PRELOAD="0")`) to import the application in
    each worker."""
    cores = os.cpu_count() or 2
    workers = workers or cores + 1
    threads = threads or 4
    argv = [sys.executable, "-m", "gisportal.serving", "--bind", "127.0.0.1:{port}", "--workers", str(workers)]
    argv += ["--threads", str(threads)]
    info = {
        "settings": "gisportal.settings.production",
        "server": "granian (gisportal/serving.py)",
        "workers": workers,
        "threads": threads,
        "access_log": True,
        "cache": "redis",
        "conn_max_age": 60,
    }
    return argv, info


def production_env(bench_url: str, redis_port: int, **extra: str) -> dict:
    """The environment of the production settings on the scratch database:
    a secret, the private Redis as broker and cache, and nginx on this host
    (X-Forwarded-For names the citizen, whom the public rate limit counts)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gisportal.settings.production",
        "DATABASE_URL": bench_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
        "TRUSTED_PROXIES": "127.0.0.1",
        **extra,
    }


def exit_on_sigterm(signum, frame):
    # Said, so that a run stopped from outside (a `timeout`, a CI limit) is not mistaken for a crash.
    print(f"stopped by {signal.Signals(signum).name} from outside; stopping the servers", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


# --- dossier histories (bench/dossiers.py, bench/analytics.py) ---------------


def dossier_base_data() -> dict:
    """Units, service points, agencies, commune committees, the catalogue and
    a leader of so-tp; loaded once per bench database."""
    from django.core.management import call_command

    from dossiers.catalogue import catalogue_demo_load
    from dossiers.demo_setup import commune_committees_ensure
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure
    from layers.models import AdministrativeUnit

    started = time.perf_counter()
    if not AdministrativeUnit.objects.exists():
        say("loading the demo units and service points (load_demo_layers) ...")
        call_command("load_demo_layers", verbosity=0)
    commune_committees_ensure()
    procedures = catalogue_demo_load()
    leader = user_ensure(
        username="bench_leader", password="x-Bench-pass-1", role="leader", agency=Agency.objects.get(code="so-tp")
    )
    return {"leader": leader, "procedures": procedures, "s": time.perf_counter() - started}


def bench_open(args, *, default_suffix: str, marker: str, sizes: str) -> tuple[str, str, str]:
    """The opening of a benchmark that runs Django in its own process: the
    scratch database found or made, migrated, and Django set up on it;
    returns (main database URL, bench database name, bench database URL).
    `args` needs db_name, recreate and settings; `sizes` says what it holds."""
    main_url, bench_db, bench_url = scratch_database(args.db_name, default_suffix=default_suffix)
    say(f"bench database {bench_db!r}; {sizes}")
    prepare_database(main_url, bench_db, marker=marker, recreate=args.recreate, settings_module=args.settings)
    django_setup(settings_module=args.settings, bench_url=bench_url, bench_db=bench_db)
    return main_url, bench_db, bench_url


def history_bench_open(args, *, default_suffix: str, marker: str) -> tuple[str, str]:
    """`bench_open` for the history benchmarks (`args` also needs small and
    large); returns (main database URL, bench database name)."""
    sizes = f"histories {args.small:,} and {args.large:,} dossiers"
    main_url, bench_db, _url = bench_open(args, default_suffix=default_suffix, marker=marker, sizes=sizes)
    return main_url, bench_db


def baselines_left_out(left_out: dict[str, str]) -> dict:
    """Print what each baseline (and the bench as a whole) leaves out, and
    return it for the JSON summary under `baselines_leave_out`: a ratio means
    little without it (issue 13's rule; tests/test_benches_run.py checks the key)."""
    say("")
    for name, text in left_out.items():
        say(f"{name} leaves out: {text}")
    return {"baselines_leave_out": left_out}


def machine_facts(started: float) -> dict:
    """What every benchmark's JSON line ends with: the machine and the run's
    length (`started`: time.perf_counter() at the start)."""
    return {
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "total_s": round(time.perf_counter() - started, 1),
    }


def history_sizes(small: int, large: int, *, present: str | None, large_mark: str) -> list[int]:
    """The two history sizes in the order to measure them: the one already in
    the database (`present`, its mark) first, then the other is generated."""
    return [large, small] if present == large_mark else [small, large]


def current_history() -> str | None:
    """The mark of the dossier history in the bench database (a table comment)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description('dossiers_dossier'::regclass, 'pg_class')")
        return cursor.fetchone()[0]


def history_generate(n: int, *, seed: int, mark: str, with_events: bool, vacuum: bool = False) -> dict:
    """Generates a demo history of n dossiers, marks the table with `mark`
    and returns the generator's phase timings."""
    from django.db import connection

    from dossiers.demo_history import dossier_history_generate

    say(f"generating a history of {n:,} dossiers{' with events' if with_events else ''} ...")
    timings: dict = {}
    dossier_history_generate(count=n, seed=seed, with_events=with_events, timings=timings)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if vacuum:
            cursor.execute("VACUUM ANALYZE dossiers_dossier")
            cursor.execute("VACUUM ANALYZE dossiers_densitycount")
            cursor.execute("VACUUM ANALYZE dossiers_densitydaycount")
            cursor.execute("VACUUM ANALYZE dossiers_densityquartercount")
        cursor.execute(f"COMMENT ON TABLE dossiers_dossier IS '{mark}'")
    if vacuum:
        timings["vacuum"] = round(time.perf_counter() - started, 3)
    phases = ", ".join(f"{k} {v:.1f}" for k, v in timings.items() if isinstance(v, float) and k != "total")
    say(f"  {timings['total']:.1f} s ({phases})")
    return timings
