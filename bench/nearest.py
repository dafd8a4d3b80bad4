"""Benchmark of the nearest-service-point API against the raw planar KNN query.

    .venv/bin/python bench/nearest.py --quick     # 100,000 points, 200 queries a mode, < 1 min
    .venv/bin/python bench/nearest.py             # 1,000,000 points, 500 queries a mode

Works in its own database (default: <main db>_bench, cloned from
template_postgis, marked with a comment, migrated, loaded with synthetic points
by COPY); the developer's database is only used to issue CREATE/DROP DATABASE,
and a database without the marker is never truncated or dropped.
See bench/README.md.

Modes, all over the same random query points inside the Bắc Ninh bbox:
  sql        raw KNN through psycopg, client-side binding (the same literal
             query text style Django sends: no server-side prepared statements)
             -- the planar KNN floor every ratio is relative to
  sql_prep   the same query, server-side binding; psycopg prepares it after 5
             runs and PostgreSQL may switch to a generic plan (information only)
  api_sql    the exact statements the API sent for that point (recorded once),
             replayed through psycopg: the database cost of the selector
  selector   layers.selectors.service_points_nearest() called directly
  api_sql_prep  the same statements prepared, as the API sends them
  inprocess  GET through django.test.Client: full middleware stack, URL routing,
             the view, JSON rendering; no socket
  wsgi       the same GET through Django's WSGIHandler (what the server called
             before the lean path): request signals and the connection health
             check, no test client
  lean       the same GET through the WSGI application the server runs
             (gisportal.wsgi: the lean path of gisportal/fastpath.py in front
             of Django's handler) -- the in-process figure of issue 13's target
  help_open, help_proc, help_bal
             GET through django.test.Client with the "where can I get this
             done, now" parameters (maps.nearest): open_at; procedure (a
             commune-level one not sent by post: desks and centres) and
             open_at; the same with rank=balanced
  http       GET over loopback to the production start (gisportal/serving.py,
             1 worker x 1 thread) the script starts and always stops;
             http.client, keep-alive

The in-process modes take turns point by point (shuffled), over --rounds
passes. Then the throughput: the API and a minimal WSGI app running the KNN
query (bench/nearest_floor_app.py), each under the production start
(gisportal/serving.py: Granian, the production settings and profile), 8 kept-alive connections, runs alternating; req/s,
latency and the servers' CPU per request.

The last line of stdout is a JSON summary.
"""

import argparse
import cProfile
import functools
import gc
import http.client
import io
import json
import math
import os
import platform
import pstats
import random
import re
import shutil
import signal
import statistics
import struct
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from common import (  # noqa: E402
    ROOT,
    KeepAliveClient,
    Server,
    baselines_left_out,
    conninfo_from_url,
    django_setup,
    exit_on_sigterm,
    floor_session,
    prepare_database,
    private_redis,
    production_env,
    production_profile,
    say,
    scratch_database,
    summarize,
    time_interleaved,
    wsgi_get,
)
from psycopg import sql as pgsql  # noqa: E402

BBOX = (105.9, 20.95, 106.9, 21.65)  # lon min, lat min, lon max, lat max: Bắc Ninh and a margin
TABLE = "layers_servicepoint"
GEOM_INDEX = "servicepoint_geom_gist"
NEAREST_PATH = "/api/v1/service-points/nearest/"
LIMIT = 5
TARGET_RATIO = 2  # issue 13: in-process p50 <= 2 x the raw KNN SQL
TARGET_RPS = 1500  # issue 13: over HTTP, 8 connections, this 2-core machine
# Share of each kind among the synthetic points (cumulative thresholds below).
KIND_SHARES = (("provincial_centre", 0.10), ("commune_desk", 0.45), ("post_office", 0.45))
INACTIVE_SHARE = 0.02
# Kinds asked for by the query points: "any" twice as often as each kind.
QUERY_KINDS = ("any", "any", "provincial_centre", "commune_desk", "post_office")
GENERATOR_VERSION = 1
COPY_COLUMNS = (
    "code",
    "kind",
    "name",
    "address",
    "geom",
    "opening_hours",
    "counters",
    "phone",
    "receiving_unit_identifier",
    "is_demo",
    "is_active",
    "updated_at",
)
UPDATED_AT = "2025-07-01 08:00:00+07"

# Same query text style as layers.selectors: literal point built with
# ST_MakePoint, KNN on the geometry column, LIMIT.
SQL_KNN = """
SELECT id, code, kind, name, address, opening_hours, counters, ST_X(geom), ST_Y(geom)
FROM layers_servicepoint
WHERE is_active {kind_filter}
ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
LIMIT %(k)s
"""
# Reference for the sanity check: many planar candidates, re-ranked by the
# ellipsoidal distance computed by PostGIS.
SQL_REFERENCE = """
SELECT id, geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
       ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography, true)
FROM layers_servicepoint
WHERE is_active {kind_filter}
ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
LIMIT %(k)s
"""


LEFT_OUT = {
    "sql (the planar KNN floor)": "the geodesic ranking (10 candidates measured on the ellipsoid), the unit's "
    "code (a column of the point since migration 0009), parameter checking, the rate limit, the request stack "
    "and the JSON of the API; unprepared, client-side binding as Django's",
    "floor app (throughput)": "Django, parameter checking, the geodesic ranking, the rate limit, the security "
    "headers and every middleware: one prepared planar KNN and its 5 rows as JSON under the same server",
    "the bench": "administrative units (the points have none here: their unit's code is NULL), "
    "the TLS proxy, a client on other cores",
}


def knn_sql(template: str, kind: str) -> str:
    return template.format(kind_filter="" if kind == "any" else "AND kind = %(kind)s")


# --------------------------------------------------------------------------- database

DB_MARKER = "scratch database of bench/nearest.py: dropped and reloaded at will"


def fingerprint(n: int, seed: int) -> str:
    return f"bench/nearest.py synthetic points v{GENERATOR_VERSION} n={n} seed={seed}"


def copy_chunks(n: int, seed: int, chunk_rows: int = 50_000):
    """Rows in COPY text format; geometry as hex EWKB (SRID 4326 point)."""
    rng = random.Random(seed)
    lon0, lat0, lon1, lat1 = BBOX
    pack = struct.Struct("<BIIdd").pack  # little endian, Point|SRID flag, SRID, x, y
    thresholds = []
    total = 0.0
    for kind, share in KIND_SHARES:
        total += share
        thresholds.append((total, kind))
    hours = "Mo-Fr 07:30-11:30,13:30-17:00"
    for start in range(0, n, chunk_rows):
        lines = []
        for i in range(start, min(n, start + chunk_rows)):
            lon = rng.uniform(lon0, lon1)
            lat = rng.uniform(lat0, lat1)
            r = rng.random()
            kind = next(k for t, k in thresholds if r < t) if r < total else thresholds[-1][1]
            active = "f" if rng.random() < INACTIVE_SHARE else "t"
            ewkb = pack(1, 0x20000001, 4326, lon, lat).hex()
            lines.append(
                f"BENCH-{i:07d}\t{kind}\tĐiểm phục vụ thử nghiệm {i}"
                f"\tSố {i % 499 + 1}, thôn {i % 97 + 1}, tỉnh Bắc Ninh\t{ewkb}\t{hours}\t{i % 6 + 1}"
                f"\t0222 {i % 1_000_000:06d}\t\tt\t{active}\t{UPDATED_AT}\n"
            )
        yield "".join(lines).encode()


def truncate_points(conn) -> None:
    """Empties the points table. Other tables point at it (a desk officer's
    `accounts_profile.service_point`, dossiers and their events), so a plain
    TRUNCATE is refused even when they are empty; CASCADE empties them too,
    which is only done when every table referring to it is empty already (a
    fresh bench database is: the bench writes no profiles or dossiers)."""
    referring = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT conrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = %s::regclass AND conrelid <> confrelid ORDER BY 1",
            [TABLE],
        )
    ]
    filled = [
        name
        for name in referring
        if conn.execute(pgsql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(pgsql.Identifier(name))).fetchone()[0]
    ]
    if filled:
        sys.exit(f"{', '.join(filled)} refer to {TABLE} and hold rows: this is not a bench database of ours")
    conn.execute(f"TRUNCATE {TABLE} RESTART IDENTITY CASCADE")


def load_points(conninfo: str, n: int, seed: int) -> dict:
    """TRUNCATE, drop secondary indexes, COPY (FREEZE), rebuild them, ANALYZE."""
    timings = {}
    with psycopg.connect(conninfo) as conn:
        t0 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '512MB'")
        truncate_points(conn)
        indexes = conn.execute(
            """
            SELECT i.relname, pg_get_indexdef(i.oid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = %s::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            ORDER BY i.relname
            """,
            [TABLE],
        ).fetchall()
        for name, _ in indexes:
            conn.execute(pgsql.SQL("DROP INDEX {}").format(pgsql.Identifier(name)))
        columns = pgsql.SQL(", ").join(pgsql.Identifier(c) for c in COPY_COLUMNS)
        copy_sql = pgsql.SQL("COPY {} ({}) FROM STDIN WITH (FREEZE)").format(pgsql.Identifier(TABLE), columns)
        with conn.cursor().copy(copy_sql) as copy:
            for chunk in copy_chunks(n, seed):
                copy.write(chunk)
        # The deferred foreign-key checks queued by COPY (admin_unit_id is NULL)
        # must run before CREATE INDEX may touch the table.
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        timings["copy_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute(
            pgsql.SQL("COMMENT ON TABLE {} IS {}").format(pgsql.Identifier(TABLE), pgsql.Literal(fingerprint(n, seed)))
        )
        conn.commit()
        timings["index_s"] = time.perf_counter() - t1
        timings["indexes_rebuilt"] = [name for name, _ in indexes]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        t2 = time.perf_counter()
        conn.execute(f"VACUUM (ANALYZE) {TABLE}")
        timings["analyze_s"] = time.perf_counter() - t2
    return timings


def bench_data_state(conninfo: str) -> tuple[int, str | None]:
    with psycopg.connect(conninfo) as conn:
        count = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
        comment = conn.execute("SELECT obj_description(%s::regclass, 'pg_class')", [TABLE]).fetchone()[0]
    return count, comment


# --------------------------------------------------------------------------- queries and stats


def query_points(count: int, seed: int) -> list[tuple[float, float, str]]:
    rng = random.Random(seed)
    lon0, lat0, lon1, lat1 = BBOX
    return [
        (round(rng.uniform(lon0, lon1), 6), round(rng.uniform(lat0, lat1), 6), rng.choice(QUERY_KINDS))
        for _ in range(count)
    ]


@functools.cache
def api_path(lon: float, lat: float, kind: str, **extra: str) -> str:
    """The look-up's path and query string. Kept: the client's work, not the
    server's; the timed modes find theirs made before timing starts."""
    return f"{NEAREST_PATH}?{urlencode({'lon': lon, 'lat': lat, 'kind': kind, 'limit': LIMIT, **extra})}"


# The "now" modes: a Wednesday morning (every synthetic point open), a
# procedure of the bench's own (commune level, not by post).
OPEN_AT = "2026-03-11T10:00"
BENCH_PROCEDURE = "9.990001"
HELP_MODES = {
    "help_open": {"open_at": OPEN_AT},
    "help_proc": {"procedure": BENCH_PROCEDURE, "open_at": OPEN_AT},
    "help_bal": {"procedure": BENCH_PROCEDURE, "open_at": OPEN_AT, "rank": "balanced"},
}


def ensure_bench_procedure() -> None:
    """The procedure the help modes ask for, written into the bench database."""
    from dossiers.models import Procedure, Sector
    from gisportal.accounts.models import Agency

    sector, _ = Sector.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    agency, _ = Agency.objects.get_or_create(
        code="bench-ubnd-xa", defaults={"name": "UBND cấp xã (bench)", "kind": Agency.Kind.PEOPLES_COMMITTEE}
    )
    Procedure.objects.update_or_create(
        code=BENCH_PROCEDURE,
        defaults={
            "name": "Thủ tục bench cấp xã",
            "sector": sector,
            "agency": agency,
            "level": "commune",
            "online_level": "partial",
            "processing_days": 3,
            "postal_submission_allowed": False,
        },
    )


def sql_params(lon: float, lat: float, kind: str, k: int = LIMIT) -> dict:
    return {"lon": lon, "lat": lat, "kind": kind, "k": k}


def time_mode(run_one, warmup_points, points) -> list[int]:
    """run_one(lon, lat, kind) does one complete query; returns ns per timed query."""
    for lon, lat, kind in warmup_points:
        run_one(lon, lat, kind)
    gc.collect()
    samples = []
    clock = time.perf_counter_ns
    for lon, lat, kind in points:
        t0 = clock()
        run_one(lon, lat, kind)
        samples.append(clock() - t0)
    return samples


# --------------------------------------------------------------------------- throughput (HTTP, N connections)

THROUGHPUT_HEADERS = "X-Forwarded-Proto: https\r\n"  # what the TLS proxy in front says (production redirects http)
CLIENT_ADDRESSES = 4096  # distinct citizens behind the proxy (X-Forwarded-For), each within the public rate


def http_requests(paths: list[str]) -> list[bytes]:
    return [
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{THROUGHPUT_HEADERS}"
            f"X-Forwarded-For: 10.{(i % CLIENT_ADDRESSES) // 250}.{(i % CLIENT_ADDRESSES) % 250}.7\r\n\r\n"
        ).encode()
        for i, path in enumerate(paths)
    ]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, CPU seconds of its reaped children) of a
    process, None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return int(fields[1]), own, (int(fields[13]) + int(fields[14])) / CLOCK_TICKS


class CpuMeter:
    """CPU time spent by the web server's master and its workers, by PostgreSQL
    backends of one database and by a redis-server between start() and
    stop(). A worker that exits in between (replaced) is counted through
    its master's reaped-children time; a backend that exits in between is
    not (its share is lost: an undercount of the postgres figure)."""

    def __init__(self, master: int, redis_pid: int, conninfo: str, dbname: str):
        self.master, self.redis_pid, self.conninfo, self.dbname = master, redis_pid, conninfo, dbname

    def _sample(self) -> dict:
        web, reaped = {}, 0.0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = _proc_stat(int(entry.name))
                if stat and (int(entry.name) == self.master or stat[0] == self.master):
                    web[int(entry.name)] = stat[1]
                    if int(entry.name) == self.master:
                        reaped = stat[2]
        postgres = {pid: (_proc_stat(pid) or (0, 0.0, 0.0))[1] for pid in backend_pids(self.conninfo, self.dbname)}
        redis_cpu = (_proc_stat(self.redis_pid) or (0, 0.0, 0.0))[1]
        return {"web": web, "reaped": reaped, "postgres": postgres, "redis": redis_cpu}

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict:
        after, before = self._sample(), self.before
        exited = set(before["web"]) - set(after["web"])
        web = sum(cpu - before["web"].get(pid, 0.0) for pid, cpu in after["web"].items())
        web += after["reaped"] - before["reaped"] - sum(before["web"][pid] for pid in exited)
        postgres = sum(cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items())
        return {"web": web, "postgres": postgres, "redis": after["redis"] - before["redis"]}


def backend_pids(conninfo: str, dbname: str) -> set[int]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [dbname]
        ).fetchall()
    return {r[0] for r in rows}


def load_run(
    port: int, requests: list[bytes], *, connections: int, seconds: float, meter: CpuMeter | None = None
) -> dict:
    """`connections` clients, each on its own kept-alive connection, sending
    the requests one after another (each waits for its answer) for `seconds`."""
    stop = threading.Event()
    latencies: list[list[int]] = [[] for _ in range(connections)]
    errors: list[str] = []
    reconnects = [0] * connections
    barrier = threading.Barrier(connections + 1)

    def client(index: int):
        conn = KeepAliveClient(port)
        mine = latencies[index]
        clock = time.perf_counter_ns
        i = index * 7919
        try:
            barrier.wait()
            while not stop.is_set():
                request = requests[i % len(requests)]
                i += 1
                t0 = clock()
                status, body = conn.get(request)
                mine.append(clock() - t0)
                if status != 200:
                    errors.append(f"{status} {body[:200]!r}")
                    if len(errors) > 20:
                        return
        except (OSError, ConnectionError) as exc:
            errors.append(repr(exc))
        finally:
            reconnects[index] = conn.reconnects
            conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(connections)]
    for t in threads:
        t.start()
    if meter:
        meter.start()
    barrier.wait()
    t0, client_cpu = time.perf_counter(), time.process_time()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    elapsed, client_cpu = time.perf_counter() - t0, time.process_time() - client_cpu
    cpu_used = meter.stop() if meter else {}
    if meter:
        cpu_used["client"] = client_cpu  # this process: the client's threads (and the meter's reads of /proc)
    done = [x for per in latencies for x in per]
    stats = summarize(done) if done else {"p50": float("nan"), "p95": float("nan")}
    return {
        "requests": len(done),
        "rps": len(done) / elapsed,
        "p50_ms": stats["p50"],
        "p95_ms": stats["p95"],
        "errors": errors,
        "reconnects": sum(reconnects),
        "cpu_ms_per_request": {name: used * 1000 / max(len(done), 1) for name, used in cpu_used.items()},
    }


def production_servers(bench_url: str, workers: int | None = None, preload: bool = True) -> tuple[list, dict, dict]:
    """A private redis-server (the production cache), the production start
    (`./portal serve --production`: gisportal/serving.py) with the production
    settings, and the floor app under the very same command line."""
    redis_server = private_redis()
    argv, profile_info = production_profile(workers=workers)
    env = production_env(bench_url, redis_server.port, **({} if preload else {"WEB_PRELOAD": "0"}))
    api = Server(argv, env=env, name="api")
    floor_env = {**env, "PYTHONPATH": str(ROOT / "bench")}
    floor = Server([*argv, "--application", "nearest_floor_app:application"], env=floor_env, name="floor")
    profile_info["preload"] = preload
    return [api, floor, redis_server], {"api": api, "floor": floor}, profile_info


def throughput(
    bench_url: str,
    conninfo: str,
    dbname: str,
    points,
    *,
    connections: int,
    seconds: float,
    rounds: int,
    workers: int | None = None,
    preload: bool = True,
) -> dict:
    """req/s and latency of the API and of the floor app, N connections,
    interleaved: each round runs both, in alternating order."""
    paths = [api_path(lon, lat, kind) for lon, lat, kind in points]
    requests = http_requests(paths)
    children, servers, profile = production_servers(bench_url, workers, preload)
    try:
        ready_headers = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
        for server in servers.values():
            server.wait_ready(paths[0], timeout=60, headers=ready_headers)
        # Warm every worker and thread of both (connections, prepared statements, imports).
        for server in servers.values():
            load_run(server.port, requests, connections=connections, seconds=max(0.3, seconds / 3))
        results: dict[str, list[dict]] = {name: [] for name in servers}
        for r in range(rounds):
            order = list(servers) if r % 2 == 0 else list(reversed(servers))
            for name in order:
                meter = CpuMeter(servers[name].proc.pid, children[-1].proc.pid, conninfo, dbname)
                run = load_run(servers[name].port, requests, connections=connections, seconds=seconds, meter=meter)
                results[name].append(run)
                cpu = run["cpu_ms_per_request"]
                say(
                    f"  round {r + 1}/{rounds} {name:5}: {run['rps']:8.0f} req/s, p50 {run['p50_ms']:.2f} ms, "
                    f"p95 {run['p95_ms']:.2f} ms, {len(run['errors'])} errors, {run['reconnects']} reconnects; "
                    f"CPU ms a request: web {cpu['web']:.3f}, postgres {cpu['postgres']:.3f}, redis {cpu['redis']:.3f}"
                )
        api_alive = servers["api"].proc.poll() is None
    finally:
        for child in children:
            child.stop()
    out: dict = {"connections": connections, "seconds": seconds, "rounds": rounds, "profile": profile}
    for name, runs in results.items():
        rps = [run["rps"] for run in runs]
        out[name] = {
            "rps_median": round(statistics.median(rps), 1),
            "rps_min": round(min(rps), 1),
            "rps_max": round(max(rps), 1),
            "p50_ms_median": round(statistics.median(run["p50_ms"] for run in runs), 3),
            "p95_ms_median": round(statistics.median(run["p95_ms"] for run in runs), 3),
            "requests": sum(run["requests"] for run in runs),
            "errors": sum(len(run["errors"]) for run in runs),
            "first_errors": [e for run in runs for e in run["errors"]][:3],
            "reconnects": sum(run["reconnects"] for run in runs),
            # Server CPU a request (the web server's master and workers, the PostgreSQL backends, redis):
            # what the servers cost whatever else the machine runs; 2 cores / this = req/s on an idle machine.
            "cpu_ms_per_request": {
                part: round(statistics.median(run["cpu_ms_per_request"][part] for run in runs), 3)
                for part in ("web", "postgres", "redis")
            },
        }
        total_cpu = sum(out[name]["cpu_ms_per_request"].values())
        out[name]["idle_machine_rps_bound"] = round((os.cpu_count() or 2) * 1000 / total_cpu) if total_cpu else None
    ratios = [a["rps"] / f["rps"] for a, f in zip(results["api"], results["floor"], strict=True) if f["rps"]]
    out["ratio_rps_api_over_floor"] = round(statistics.median(ratios), 3) if ratios else None
    out["ratio_rps_spread"] = [round(min(ratios), 3), round(max(ratios), 3)] if ratios else None
    out["api_server_alive"] = api_alive
    return out


# --------------------------------------------------------------------------- the sequential server


def start_sequential(*, bench_url: str, settings_module: str) -> Server:
    """The production start (gisportal/serving.py) with 1 worker x 1 thread
    and the given settings, on a free loopback port; stop() is safe to call
    more than once."""
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_SETTINGS_MODULE": settings_module, "WEB_ACCESS_LOG": ""}
    argv, _ = production_profile(workers=1, threads=1)
    return Server(argv, env=env, name="server")


# --------------------------------------------------------------------------- checks


def plan_text(cursor, query: str, params=None) -> str:
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query, params)
    return "\n".join(row[0] for row in cursor.fetchall())


def index_scans(plan: str) -> list[str]:
    return re.findall(r"Index (?:Only )?Scan using (\S+) on layers_servicepoint", plan)


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def gist_indexes_on_geom(conn) -> set[str]:
    rows = conn.execute(
        """
        SELECT i.relname FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
        WHERE x.indrelid = %s::regclass AND am.amname = 'gist'
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = x.indrelid AND a.attname = 'geom'
                      AND a.attnum = ANY (x.indkey))
        """,
        [TABLE],
    ).fetchall()
    return {r[0] for r in rows}


def check_plans(sql_conn, client, point) -> dict:
    """EXPLAIN the baseline and the SQL the API actually sends for one point."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lon, lat, kind = point
    with psycopg.ClientCursor(sql_conn) as cur:
        plan = plan_text(cur, knn_sql(SQL_KNN, kind), sql_params(lon, lat, kind))
    say(f"EXPLAIN baseline KNN, kind={kind}:")
    say(indent(plan))
    result = {"sql_index": index_scans(plan)}
    with CaptureQueriesContext(connection) as captured:
        response = client.get(api_path(lon, lat, kind))
    assert response.status_code == 200, response.content[:500]
    api_used = []
    with connection.cursor() as cur:
        for i, q in enumerate(captured.captured_queries, start=1):
            if not q["sql"].lstrip().upper().startswith("SELECT"):
                continue
            plan = plan_text(cur, q["sql"])
            api_used += index_scans(plan)
            say(f"EXPLAIN API query {i}/{len(captured.captured_queries)}, kind={kind}:")
            say(indent(plan))
    result["api_index"] = api_used
    # The API's statement is prepared: after five runs PostgreSQL may keep a generic plan
    # (parameters unknown). That plan has to walk a GiST index too.
    generic_used = []
    for statements in record_api_sql(client, [point]):
        for statement, params in statements:
            with sql_conn.cursor() as cur:  # server-side binding, parameters as $n
                cur.execute("SET plan_cache_mode = force_generic_plan")
                cur.execute("EXPLAIN (COSTS OFF) " + statement, params)
                plan = "\n".join(row[0] for row in cur.fetchall())
                cur.execute("RESET plan_cache_mode")
            generic_used += index_scans(plan)
            say(f"EXPLAIN API query, generic plan (as prepared), kind={kind}:")
            say(indent(plan))
    result["api_generic_index"] = generic_used
    return result


def record_api_sql(client, points) -> list[list[tuple[str, object]]]:
    """The statements (SQL with placeholders, params) the API sends for each point."""
    from django.db import connection

    recorded: list[tuple[str, object]] = []

    def recorder(execute, sql, params, many, context):
        recorded.append((sql, params))
        return execute(sql, params, many, context)

    per_point = []
    with connection.execute_wrapper(recorder):
        for lon, lat, kind in points:
            recorded = []
            response = client.get(api_path(lon, lat, kind))
            assert response.status_code == 200, response.content[:500]
            per_point.append(recorded)
    return per_point


def check_results(sql_conn, client, points) -> dict:
    """API answers == raw KNN candidates re-ranked by PostGIS ellipsoidal distance."""
    mismatches = []
    planar_differs = 0
    for lon, lat, kind in points:
        features = client.get(api_path(lon, lat, kind)).json()["features"]
        got = [(f["id"], f["properties"]["distance_m"]) for f in features]
        with psycopg.ClientCursor(sql_conn) as cur:
            cur.execute(knn_sql(SQL_REFERENCE, kind), sql_params(lon, lat, kind, k=100))
            rows = cur.fetchall()
        ranked = sorted(rows, key=lambda r: (r[2], r[0]))[:LIMIT]
        # The 100th planar candidate is far enough that nothing outside can beat the 5th.
        bound = 0.99 * 110_574.0 * _cos_deg(abs(lat) + rows[-1][1] + 1.0) * rows[-1][1]
        if len(rows) == 100 and ranked[-1][2] > bound:
            mismatches.append({"point": (lon, lat, kind), "error": "reference candidate set too small"})
            continue
        want = [(r[0], round(r[2], 1)) for r in ranked]
        ids_match = [g[0] for g in got] == [w[0] for w in want]
        dist_match = all(abs(g[1] - w[1]) <= 0.11 for g, w in zip(got, want, strict=False))
        if not (ids_match and dist_match and len(got) == len(want)):
            mismatches.append({"point": (lon, lat, kind), "api": got, "reference": want})
        if [r[0] for r in rows[:LIMIT]] != [w[0] for w in want]:
            planar_differs += 1
    return {"checked": len(points), "mismatches": mismatches, "planar_top5_differs": planar_differs}


def _cos_deg(degrees: float) -> float:
    return math.cos(math.radians(min(degrees, 90.0)))


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="100,000 points and 200 queries a mode (< 1 min)")
    p.add_argument(
        "--tiny", action="store_true", help="2,000 points, 20 queries a mode: does it run (tests/test_benches_run.py)"
    )
    p.add_argument("-n", "--points", type=int, help="synthetic points (default 1,000,000; quick 100,000)")
    p.add_argument("--queries", type=int, help="timed queries a mode (default 500; quick 200)")
    p.add_argument("--warmup", type=int, default=50, help="untimed queries a mode before timing (default 50)")
    p.add_argument("--fresh", action="store_true", help="reload the points even if the bench DB already has them")
    p.add_argument("--recreate", action="store_true", help="drop and recreate the bench database first")
    p.add_argument("--db-name", help="bench database (default: <main db>_bench)")
    p.add_argument(
        "--settings", default="gisportal.settings.test", help="DJANGO_SETTINGS_MODULE (must have DEBUG=False)"
    )
    p.add_argument("--seed", type=int, default=20250701)
    p.add_argument("--no-http", action="store_true", help="skip the HTTP modes (no server at all)")
    p.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile the lean path's requests (gisportal.wsgi.application) and print the top",
    )
    p.add_argument("--sanity", type=int, default=20, help="queries compared API vs re-ranked raw SQL (default 20)")
    p.add_argument("--rounds", type=int, help="interleaved passes over the query points (default 3; tiny 1)")
    p.add_argument("--no-throughput", action="store_true", help="skip the N-connection HTTP throughput")
    p.add_argument("--connections", type=int, default=8, help="throughput: concurrent connections (default 8)")
    p.add_argument("--seconds", type=float, help="throughput: seconds a run (default 5; tiny 0.5)")
    p.add_argument("--web-workers", type=int, help="throughput: server workers (default cores + 1; tiny 1)")
    p.add_argument(
        "--no-preload", action="store_true", help="throughput: each worker imports the app (production preloads)"
    )
    p.add_argument("--throughput-rounds", type=int, help="throughput: runs of each server (default 3; tiny 1)")
    args = p.parse_args()
    if args.tiny:
        args.points = args.points or 2_000
        args.queries = args.queries or 20
        args.warmup = min(args.warmup, 5)
        args.sanity = min(args.sanity, 5)
        args.rounds = args.rounds or 1
        args.seconds = args.seconds or 0.5
        args.throughput_rounds = args.throughput_rounds or 1
        args.connections = min(args.connections, 2)
        args.web_workers = args.web_workers or 1
    args.rounds = args.rounds or 3
    args.seconds = args.seconds or 5.0
    args.throughput_rounds = args.throughput_rounds or 3
    args.points = args.points or (100_000 if args.quick else 1_000_000)
    args.queries = args.queries or (200 if args.quick else 500)
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    started = time.perf_counter()
    main_url, bench_db, bench_url = scratch_database(args.db_name, default_suffix="bench")
    bench_conninfo = conninfo_from_url(main_url, bench_db)
    say(f"bench database {bench_db!r} on {urlsplit(main_url).hostname}:{urlsplit(main_url).port or 5432}")

    # 1. database, schema, data
    prepare_database(main_url, bench_db, marker=DB_MARKER, recreate=args.recreate, settings_module=args.settings)
    count, comment = bench_data_state(bench_conninfo)
    reused = not args.fresh and count == args.points and comment == fingerprint(args.points, args.seed)
    load = {}
    if reused:
        say(f"reusing {count:,} synthetic points already in {bench_db} (--fresh reloads)")
    else:
        why = "--fresh" if args.fresh else f"found {count:,} rows ({comment or 'not ours'})"
        say(f"loading {args.points:,} synthetic points by COPY ({why}) ...")
        load = load_points(bench_conninfo, args.points, args.seed)
        say(
            f"  COPY {load['copy_s']:.1f} s, rebuilt {len(load['indexes_rebuilt'])} indexes "
            f"{load['index_s']:.1f} s, VACUUM ANALYZE {load['analyze_s']:.1f} s"
        )

    # 2. Django in-process, pointed at the bench database
    django_setup(settings_module=args.settings, bench_url=bench_url, bench_db=bench_db)
    import django
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from layers import selectors

    client = Client()
    connection.ensure_connection()
    client_side = issubclass(connection.connection.cursor_factory, psycopg.ClientCursor)
    say(
        f"Django {django.get_version()}, settings {args.settings} (DEBUG=False), "
        f"psycopg {psycopg.__version__} {'client-side' if client_side else 'server-side'} binding"
    )
    # Names only: importing the classes here, before the URLconf, could trip import cycles.
    throttles = [name.rsplit(".", 1)[-1] for name in settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_CLASSES", [])]
    say(
        f"DRF throttles {throttles or 'none'} (PUBLIC_LOOKUP_RATE={getattr(settings, 'PUBLIC_LOOKUP_RATE', None)}), "
        f"cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}; in-process client: django.test.Client"
    )

    warm = query_points(args.warmup, args.seed + 1)
    points = query_points(args.queries, args.seed + 2)
    sql_conn = floor_session(psycopg.connect(bench_conninfo, autocommit=True))  # client-side binding, as Django
    # server-side binding, prepare_threshold=5
    prep_conn = floor_session(psycopg.connect(bench_conninfo, autocommit=True))

    ensure_bench_procedure()
    help_statements = {}
    for name, extra in HELP_MODES.items():
        from django.test.utils import CaptureQueriesContext

        client.get(api_path(*points[0], **extra))  # fills the cached load figures
        with CaptureQueriesContext(connection) as captured:
            response = client.get(api_path(*points[1], **extra))
        assert response.status_code == 200, response.content[:500]
        help_statements[name] = len(captured.captured_queries)
    say(f"SQL statements per help request (load figures cached): {help_statements}")

    # 3. checks
    gist = gist_indexes_on_geom(sql_conn)
    say("")
    say(f"GiST indexes on geom: {', '.join(sorted(gist))}")
    any_point = next(p for p in points if p[2] == "any")
    kind_point = next(p for p in points if p[2] != "any")
    plans_any = check_plans(sql_conn, client, any_point)
    plans_kind = check_plans(sql_conn, client, kind_point)
    # Unfiltered nearest must walk servicepoint_geom_gist; with a kind, any GiST index on geom will do.
    gist_ok = (
        GEOM_INDEX in plans_any["sql_index"]
        and GEOM_INDEX in plans_any["api_index"]
        and bool(plans_kind["sql_index"])
        and set(plans_kind["sql_index"]) <= gist
        and bool(plans_kind["api_index"])
        and set(plans_kind["api_index"]) <= gist
        and GEOM_INDEX in plans_any["api_generic_index"]
        and bool(plans_kind["api_generic_index"])
        and set(plans_kind["api_generic_index"]) <= gist
    )
    plans = {
        "any": {
            "sql": plans_any["sql_index"],
            "api": plans_any["api_index"],
            "api_generic": plans_any["api_generic_index"],
        },
        kind_point[2]: {
            "sql": plans_kind["sql_index"],
            "api": plans_kind["api_index"],
            "api_generic": plans_kind["api_generic_index"],
        },
    }
    say(f"GiST check: {'OK' if gist_ok else 'FAILED'} -- index scans used {plans}")
    sanity = check_results(sql_conn, client, points[: args.sanity])
    say(
        f"sanity: {sanity['checked'] - len(sanity['mismatches'])}/{sanity['checked']} API answers equal the raw KNN "
        f"candidates re-ranked by ellipsoidal distance; planar top-{LIMIT} differs from it in "
        f"{sanity['planar_top5_differs']}/{sanity['checked']}"
    )
    for m in sanity["mismatches"][:3]:
        say(f"  MISMATCH {m}")

    # 4. prime the cache over every timed point (so no mode pays cold reads for another), and record
    # the exact statements the API sends for each, to replay them through psycopg (mode api_sql)
    with psycopg.ClientCursor(sql_conn) as cur:
        for lon, lat, kind in points:
            cur.execute(knn_sql(SQL_KNN, kind), sql_params(lon, lat, kind, k=4 * LIMIT))
            cur.fetchall()
    api_statements = record_api_sql(client, warm + points)
    per_request = {}
    for statements in api_statements[len(warm) :]:
        per_request[len(statements)] = per_request.get(len(statements), 0) + 1
    say(
        "SQL statements per API request: "
        + ", ".join(f"{k}: {v}/{len(points)}" for k, v in sorted(per_request.items()))
    )

    # 5. timing
    sql_text = {kind: knn_sql(SQL_KNN, kind) for kind in set(QUERY_KINDS)}
    client_cur = psycopg.ClientCursor(sql_conn)
    server_cur = prep_conn.cursor()

    def run_sql(lon, lat, kind):
        client_cur.execute(sql_text[kind], {"lon": lon, "lat": lat, "kind": kind, "k": LIMIT})
        client_cur.fetchall()

    def run_sql_prepared(lon, lat, kind):
        server_cur.execute(sql_text[kind], {"lon": lon, "lat": lat, "kind": kind, "k": LIMIT})
        server_cur.fetchall()

    replay = dict(zip(warm + points, api_statements, strict=True))

    def run_api_sql(lon, lat, kind):
        for statement, params in replay[(lon, lat, kind)]:
            client_cur.execute(statement, params)
            client_cur.fetchall()

    def run_api_sql_prepared(lon, lat, kind):
        for statement, params in replay[(lon, lat, kind)]:
            server_cur.execute(statement, params, prepare=True)
            server_cur.fetchall()

    def run_selector(lon, lat, kind):
        selectors.service_points_nearest(lon=lon, lat=lat, kind=None if kind == "any" else kind, limit=LIMIT)

    def run_inprocess(lon, lat, kind):
        response = client.get(api_path(lon, lat, kind))
        if response.status_code != 200:
            raise RuntimeError(f"API answered {response.status_code}: {response.content[:300]!r}")

    from django.core.handlers.wsgi import WSGIHandler

    from gisportal.fastpath import LeanPath

    wsgi_handler = WSGIHandler()  # Django's handler: middleware, request signals (connection health check)
    lean_application = LeanPath(wsgi_handler)  # what the server calls (gisportal.wsgi.application)

    def wsgi_runner(application):
        def run(lon, lat, kind):
            call_wsgi(application, lon, lat, kind)

        return run

    def call_wsgi(application, lon, lat, kind):
        try:
            status, _ = wsgi_get(application, NEAREST_PATH, api_path(lon, lat, kind).partition("?")[2])
        finally:
            # request_finished marked the connection for a health check (SELECT 1) on its next use:
            # the next request's request_started does the same, inside this mode's time; the other
            # modes on this connection must not pay it.
            connection.health_check_done = True
        if not status.startswith("200"):
            raise RuntimeError(f"WSGI handler answered {status}")

    def help_runner(extra: dict):
        def run_help(lon, lat, kind):
            response = client.get(api_path(lon, lat, kind, **extra))
            if response.status_code != 200:
                raise RuntimeError(f"API answered {response.status_code}: {response.content[:300]!r}")

        return run_help

    modes = {
        "sql": run_sql,
        "sql_prep": run_sql_prepared,
        "api_sql": run_api_sql,
        "api_sql_prep": run_api_sql_prepared,
        "selector": run_selector,
        "inprocess": run_inprocess,
        "wsgi": wsgi_runner(wsgi_handler),
        "lean": wsgi_runner(lean_application),
        **{name: help_runner(extra) for name, extra in HELP_MODES.items()},
    }
    say("")
    for point in warm + points:  # the requests' query strings, as a client has them before it sends
        for extra in ({}, *HELP_MODES.values()):
            api_path(*point, **extra)
    samples, per_round = time_interleaved(modes, warm, points, args.rounds)
    say(f"timed {', '.join(modes)}: {len(points)} queries each, interleaved, {args.rounds} rounds")

    http_info = {}
    server = None
    if not args.no_http and not args.tiny:  # tiny: the throughput runs exercise the servers
        try:
            server = start_sequential(bench_url=bench_url, settings_module=args.settings)
            server.wait_ready(api_path(*warm[0]), timeout=30.0)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            reconnects = 0

            def run_http(lon, lat, kind):
                nonlocal reconnects
                conn.request("GET", api_path(lon, lat, kind))
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    raise RuntimeError(f"the server answered {response.status}: {body[:300]!r}")
                if response.will_close:
                    conn.close()  # http.client reconnects on the next request
                    reconnects += 1

            samples["http"] = time_mode(run_http, warm, points)
            conn.close()
            http_info = {
                "port": server.port,
                "server": "granian, 1 worker x 1 thread (gisportal/serving.py)",
                "keep_alive": reconnects == 0,
                "reconnects": reconnects,
            }
            say(
                f"timed http: {len(points)} queries (production start 127.0.0.1:{server.port}, 1 worker x 1 thread, "
                f"{'keep-alive' if reconnects == 0 else 'new TCP connection per request: server closes'})"
            )
        finally:
            if server:
                server.stop()

    tput = None
    if not args.no_http and not args.no_throughput:
        if shutil.which("redis-server"):
            say("")
            say(
                f"throughput: {args.connections} connections, {args.seconds:g} s a run, {args.throughput_rounds} "
                "rounds of the API and the floor app, alternating (production settings and profile)"
            )
            tput = throughput(
                bench_url,
                bench_conninfo,
                bench_db,
                points,
                connections=args.connections,
                seconds=args.seconds,
                rounds=args.throughput_rounds,
                workers=args.web_workers,
                preload=not args.no_preload,
            )
        else:
            say("throughput skipped: redis-server (the production cache) is not installed")

    profile_text = None
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_lean = wsgi_runner(lean_application)  # the path the target is read on
        for lon, lat, kind in points:
            run_lean(lon, lat, kind)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        profile_text = out.getvalue()

    client_cur.close()
    server_cur.close()
    sql_conn.close()
    prep_conn.close()
    connection.close()

    # 6. report
    stats = {name: summarize(s) for name, s in samples.items()}
    base = stats["sql"]
    say("")
    say(
        f"nearest, limit={LIMIT}, {args.points:,} points, {len(points)} timed queries a mode "
        f"(+{len(warm)} warm-up), kinds {'/'.join(sorted(set(QUERY_KINDS)))}"
    )
    say(f"{'mode':<10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'/sql p50':>9} {'/sql p95':>9}")
    for name, s in stats.items():
        say(
            f"{name:<10} {s['p50']:8.3f} {s['p95']:8.3f} {s['p99']:8.3f} {s['mean']:8.3f} "
            f"{s['p50'] / base['p50']:9.2f} {s['p95'] / base['p95']:9.2f}"
        )
    if profile_text:
        say("")
        say(f"cProfile of {len(points)} lean-path requests (gisportal.wsgi.application):")
        say(profile_text)
    ratio = stats["inprocess"]["p50"] / base["p50"]
    round_ratios = [r["inprocess"] / r["sql"] for r in per_round]
    ratio_prep = stats["inprocess"]["p50"] / stats["sql_prep"]["p50"]
    say(
        f"in-process p50 / sql p50: {ratio:.2f} (rounds {', '.join(f'{x:.2f}' for x in round_ratios)}); "
        f"/ sql_prep p50: {ratio_prep:.2f}"
    )
    wsgi_ratio = stats["wsgi"]["p50"] / base["p50"]
    say(f"WSGI handler p50 / sql p50: {wsgi_ratio:.2f} (no django.test.Client; request signals and health check)")
    lean_ratio = stats["lean"]["p50"] / base["p50"]
    lean_rounds = [r["lean"] / r["sql"] for r in per_round]
    say(
        f"lean path (gisportal.wsgi.application) p50 / sql p50: {lean_ratio:.2f} "
        f"(rounds {', '.join(f'{x:.2f}' for x in lean_rounds)}); target <= {TARGET_RATIO:g}: "
        f"{'MET' if lean_ratio <= TARGET_RATIO else 'NOT MET'}"
    )
    say(f"target in-process p50 ratio <= {TARGET_RATIO:g}: {'MET' if ratio <= TARGET_RATIO else 'NOT MET'}")
    if tput:
        say(
            f"throughput, {tput['connections']} connections: API {tput['api']['rps_median']:.0f} req/s "
            f"(runs {tput['api']['rps_min']:.0f}-{tput['api']['rps_max']:.0f}; p50 {tput['api']['p50_ms_median']} ms, "
            f"p95 {tput['api']['p95_ms_median']} ms), floor app {tput['floor']['rps_median']:.0f} req/s "
            f"(runs {tput['floor']['rps_min']:.0f}-{tput['floor']['rps_max']:.0f}), ratio "
            f"{tput['ratio_rps_api_over_floor']}; target >= {TARGET_RPS} req/s: "
            f"{'MET' if tput['api']['rps_median'] >= TARGET_RPS else 'NOT MET'}"
        )

    summary = {
        "n_points": args.points,
        "queries": len(points),
        "warmup": len(warm),
        "limit": LIMIT,
        "reused_data": reused,
        "sql_p50_ms": round(base["p50"], 3),
        "sql_p95_ms": round(base["p95"], 3),
        "sql_prepared_p50_ms": round(stats["sql_prep"]["p50"], 3),
        "sql_prepared_p95_ms": round(stats["sql_prep"]["p95"], 3),
        "selector_p50_ms": round(stats["selector"]["p50"], 3),
        "selector_p95_ms": round(stats["selector"]["p95"], 3),
        "inprocess_p50_ms": round(stats["inprocess"]["p50"], 3),
        "inprocess_p95_ms": round(stats["inprocess"]["p95"], 3),
        "ratio_inprocess_p50": round(ratio, 2),
        "ratio_inprocess_p95": round(stats["inprocess"]["p95"] / base["p95"], 2),
        "ratio_selector_p50": round(stats["selector"]["p50"] / base["p50"], 2),
        "api_sql_p50_ms": round(stats["api_sql"]["p50"], 3),
        "api_sql_p95_ms": round(stats["api_sql"]["p95"], 3),
        "ratio_api_sql_p50": round(stats["api_sql"]["p50"] / base["p50"], 2),
        "api_sql_prepared_p50_ms": round(stats["api_sql_prep"]["p50"], 3),
        "ratio_inprocess_p50_over_sql_prepared": round(ratio_prep, 2),
        "wsgi_p50_ms": round(stats["wsgi"]["p50"], 3),
        "wsgi_p95_ms": round(stats["wsgi"]["p95"], 3),
        "ratio_wsgi_p50": round(stats["wsgi"]["p50"] / base["p50"], 2),
        "ratio_wsgi_p50_rounds": [round(r["wsgi"] / r["sql"], 2) for r in per_round],
        "lean_p50_ms": round(stats["lean"]["p50"], 3),
        "lean_p95_ms": round(stats["lean"]["p95"], 3),
        "ratio_lean_p50": round(lean_ratio, 2),
        "ratio_lean_p50_rounds": [round(x, 2) for x in lean_rounds],
        "rounds": args.rounds,
        "ratio_inprocess_p50_rounds": [round(x, 2) for x in round_ratios],
    }
    if "http" in stats:
        summary |= {
            "http_p50_ms": round(stats["http"]["p50"], 3),
            "http_p95_ms": round(stats["http"]["p95"], 3),
            "ratio_http_p50": round(stats["http"]["p50"] / base["p50"], 2),
            "ratio_http_p95": round(stats["http"]["p95"] / base["p95"], 2),
            "http_keep_alive": http_info["keep_alive"],
        }
    for name in HELP_MODES:
        summary |= {
            f"{name}_p50_ms": round(stats[name]["p50"], 3),
            f"{name}_p95_ms": round(stats[name]["p95"], 3),
            f"ratio_{name}_p50": round(stats[name]["p50"] / base["p50"], 2),
            f"ratio_{name}_p95": round(stats[name]["p95"] / base["p95"], 2),
        }
    summary["help_statements_per_request"] = help_statements
    if tput:
        summary |= {
            "throughput_api_rps": tput["api"]["rps_median"],
            "throughput_floor_rps": tput["floor"]["rps_median"],
            "throughput_ratio": tput["ratio_rps_api_over_floor"],
            "throughput_target_rps": TARGET_RPS,
            "throughput_target_met": tput["api"]["rps_median"] >= TARGET_RPS,
            "throughput": tput,
        }
    summary |= {
        "target_inprocess_p50_ratio": TARGET_RATIO,
        "target_inprocess_p50_ratio_met": ratio <= TARGET_RATIO,
        "target_lean_p50_ratio_met": lean_ratio <= TARGET_RATIO,
        "gist_ok": gist_ok,
        "index_scans": plans,
        "api_statements_per_request": per_request,
        "sanity_checked": sanity["checked"],
        "sanity_mismatches": len(sanity["mismatches"]),
        "inprocess_client": "django.test.Client",
        "bench_db": bench_db,
        "load_s": round(sum(v for k, v in load.items() if k.endswith("_s")), 1) if load else 0.0,
        "total_s": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    summary |= baselines_left_out(LEFT_OUT)
    print(json.dumps(summary), flush=True)
    throughput_ok = tput is None or (tput["api"]["errors"] == 0 and tput["floor"]["errors"] == 0)
    return 0 if gist_ok and not sanity["mismatches"] and throughput_ok else 1


if __name__ == "__main__":
    sys.exit(main())
