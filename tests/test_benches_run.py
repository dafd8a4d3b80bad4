"""Every benchmark in bench/ runs from a fresh clone: each script is run at a
tiny size as a subprocess, the way a developer runs it, and must exit 0 with a
JSON object as its last line holding the keys its README section promises.

The scripts work in scratch databases named after the "main" database they
are given: here an empty database of this run, so that theirs are new and
never a developer's. Migrating a database from template_postgis takes 15-20 s
here, so it is done once and each script gets a marked copy (its own migrate
then has nothing to do); all are dropped afterwards.

Not run here:
- bench/schemathesis_run.py: it needs a running portal, and the suite already
  runs schemathesis over the whole schema (tests/test_schemathesis.py);
- bench/drills.py: it starts a private PostgreSQL cluster, Redis, the server and
  Celery and breaks them on purpose (minutes); tests/test_bench_drills.py
  checks its set-up against the API;
- bench/load_mixed.py where its load generator is not installed yet (NEEDS);
- bench/analytics_coverage.py: read-only against the developer database
  with the demo layers loaded (./portal setup), which a test database is not.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.conf import settings
from psycopg import sql as pgsql

from conftest import _run_suffix

ROOT = settings.BASE_DIR
BENCH = ROOT / "bench"

# script, tiny arguments, keys its last line must hold, scratch database suffix and marker name
BENCHES = {
    "nearest": (
        ["--tiny"],
        {"n_points", "sql_p50_ms", "inprocess_p50_ms", "ratio_inprocess_p50", "gist_ok", "sanity_mismatches"},
        ["bench"],
    ),
    "feedback": (
        ["--reports", "300", "--queries", "1", "--warmup", "0", "--only", "map"],
        {"reports", "map", "total_s"},
        ["bench_feedback"],
    ),
    "dossiers": (
        ["--small", "200", "--large", "400", "--submissions", "3", "--queries", "1", "--warmup", "0"]
        + ["--concurrent", "6", "--clients", "3", "--workers", "1"],
        {"small", "large", "indicator_api_p50_ms_small", "ratio_indicator_api", "concurrent"},
        ["bench_dossiers"],
    ),
    "analytics": (
        ["--small", "200", "--large", "400", "--queries", "2", "--rounds", "2", "--warmup", "0"]
        + ["--naive-queries", "1", "--coverage-repeats", "1"],
        {"small", "large", "density_api_p50_ms", "ratio_large_to_small_by_round"},
        ["bench_analytics", "bench_analytics_small"],
    ),
    "payments": (
        ["--dossiers", "200", "--ipns", "12", "--threads", "2", "--rounds", "1", "--runs", "1"],
        {"dossiers", "payments", "ipns"},
        ["bench_payments"],
    ),
    "registries": (
        # Its own checkout as the baseline: the second server's turns (--baseline-checkout) run too.
        ["-n", "500", "--requests", "2", "--tiles", "1", "--warmup", "0", "--no-pygeoapi"]
        + ["--baseline-checkout", str(ROOT)],
        {"n_points", "bench_db"},
        ["bench_registries"],
    ),
    "registries_import": (
        ["--n", "500", "--rounds", "1", "--phases"],
        {"points", "ours_s", "ogr2ogr_s", "ratio", "ours_peak_rss_mib", "times_s", "baselines_leave_out"}
        | {"ours_properties_indexes"},
        ["bench_import"],
    ),
    "zalo": (
        ["--events", "5", "--warmup", "1"],
        {"webhook_p50_ms", "baseline_p50_ms", "ratio_p50"},
        ["zalo_bench"],
    ),
    "load_mixed": (
        ["--users", "4", "--seconds", "3", "--rounds", "1", "--dossiers", "300", "--workers", "1"],
        {"users", "floor", "mixed", "ratio_mixed_to_floor_rps"},
        ["bench_load"],
    ),
    "load_paths": (
        # Its own checkout as the baseline: the second server's turns run too. The map page and the static
        # file need the production manifest, which a fresh clone has not collected: left out here.
        ["--paths", "nearest,units,procedures,lookup,items,tile", "--seconds", "0.3", "--rounds", "1"]
        + ["--dossiers", "300", "--workers", "1", "--baseline-checkout", str(ROOT)],
        {"paths", "errors", "demo", "baseline_checkout"},
        ["bench_paths"],
    ),
    "batch_nearest": (
        ["--tiny"],
        {"points", "service_points", "ratio_ours_over_geopandas"},
        ["bench_batch_nearest"],
    ),
    # Issue 14: its own Citus coordinator, workers and database (no scratch copy).
    "national": (
        ["--small", "2000", "--large", "4000", "--submissions", "20", "--reads", "20", "--aggregates", "2"]
        + ["--shards", "8"],
        {"n2000", "n4000", "growth_p95_large_over_small", "cluster_start_s"},
        [],
    ),
}
# Scripts run this many at a time: most of a tiny run is waiting (a server
# starting, a database being copied), so three overlap well on two cores.
AT_ONCE = 3
# A path: the load generator's own virtual environment, which bench/load_mixed.py
# makes on its first run (pip, a minute) and collectstatic for the production
# settings (another): too long for every fresh clone's suite, so that script runs
# here where a developer has run it once.
NEEDS = {
    "registries": ["ogr2ogr"],
    "registries_import": ["ogr2ogr"],
    "zalo": ["redis-server"],
    "load_paths": ["redis-server"],
    "load_mixed": ["var/locust-venv/bin/locust"],
}


def _marker(script: str) -> str:
    source = (BENCH / f"{script}.py").read_text()
    for line in source.splitlines():
        if line.startswith(("DB_MARKER = ", "MARKER = ")):
            return json.loads(line.split("=", 1)[1].strip())
    raise AssertionError(f"bench/{script}.py has no marker line")


@pytest.fixture(scope="module")
def main_url():
    """An empty database of this run as the scripts' "main" database (they
    only issue CREATE DATABASE there): their scratch databases are
    <it>_<suffix>, new to this run, and all are dropped afterwards."""
    sys.path.insert(0, str(BENCH))
    try:
        import common
    finally:
        sys.path.remove(str(BENCH))
    db = settings.DATABASES["default"]
    name = f"test_benchrun_{_run_suffix()}"
    server = f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    maintenance = common.conninfo_from_url(server + "/postgres")
    template = f"{name}_tpl"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        for stale in (name, template):
            conn.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f'CREATE DATABASE "{template}" TEMPLATE template_postgis')
    # Migrated once (as a fresh clone's first run does), then each script's
    # scratch database is a copy carrying the script's marker: its own
    # `migrate` finds nothing to do, which saves a minute of the suite.
    env = {**os.environ, "DATABASE_URL": f"{server}/{template}", "DJANGO_SETTINGS_MODULE": "gisportal.settings.test"}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    with psycopg.connect(maintenance, autocommit=True) as conn:
        for script, (_args, _keys, suffixes) in BENCHES.items():
            for suffix in suffixes:
                copy = f"{name}_{suffix}"
                conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
                conn.execute(
                    pgsql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        pgsql.Identifier(copy), pgsql.Literal(_marker(script))
                    )
                )
    try:
        yield f"{server}/{name}"
    finally:
        main = common.conninfo_from_url(f"{server}/{name}")
        for script, (_args, _keys, suffixes) in BENCHES.items():
            for suffix in suffixes:
                common.drop_database(main, f"{name}_{suffix}", marker=_marker(script))
        with psycopg.connect(maintenance, autocommit=True) as conn:
            for own in (name, template):
                conn.execute(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')


def _missing(script: str) -> list[str]:
    return [
        tool for tool in NEEDS.get(script, []) if not ((ROOT / tool).exists() if "/" in tool else shutil.which(tool))
    ]


def _run(script: str, main_url: str) -> tuple[subprocess.CompletedProcess, float]:
    args, _keys, _suffixes = BENCHES[script]
    env = {**os.environ, "DATABASE_URL": main_url}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # each script chooses its own settings
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, time.perf_counter() - started


@pytest.fixture(scope="module")
def runs(main_url) -> dict[str, tuple[subprocess.CompletedProcess, float]]:
    """Every script run once, AT_ONCE at a time (each in its own databases)."""
    wanted = [script for script in BENCHES if not _missing(script)]
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        futures = {script: pool.submit(_run, script, main_url) for script in wanted}
        return {script: future.result() for script, future in futures.items()}


@pytest.mark.parametrize("script", list(BENCHES))
def test_the_benchmark_runs_at_a_tiny_size(script, runs):
    _args, keys, _suffixes = BENCHES[script]
    missing = _missing(script)
    if missing:
        pytest.skip(f"bench/{script}.py needs {', '.join(missing)}, not installed")
    done, took = runs[script]
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
    assert done.returncode == 0, f"bench/{script}.py exited {done.returncode} after {took:.0f} s:\n{tail}"
    last = done.stdout.strip().splitlines()[-1]
    summary = json.loads(last)
    assert isinstance(summary, dict), last
    assert keys <= summary.keys(), f"missing {sorted(keys - summary.keys())} in {last[:500]}"
    # Issue 13's rule: every benchmark says what its baselines leave out (bench.common.baselines_left_out).
    assert summary.get("baselines_leave_out"), f"bench/{script}.py does not say what its baselines leave out"
    if script == "dossiers":
        # Each key sent twice by two clients at once: one dossier, one event, one code each.
        assert summary["concurrent"]["lost_or_duplicated"] == 0, summary["concurrent"]
        assert summary["concurrent"]["dossiers"] == summary["concurrent"]["keys"] == 6
    if script == "registries":
        z14 = summary["tiles"]["z14"]
        assert z14["ours_p50_ms"] > 0 and z14["before_p50_ms"] > 0, z14
    if script == "load_paths":
        assert summary["errors"] == 0 and set(summary["paths"]) >= {"nearest", "lookup", "tile"}, summary["paths"]
        for path, figures in summary["paths"].items():
            assert figures["ours"]["rps"] > 0 and figures["before"]["rps"] > 0, (path, figures)
    if script == "load_mixed":
        assert summary["mixed"]["requests"] > 0 and summary["mixed"]["failures"] == 0, summary["mixed"]
