"""Citus shards by province (issue 14): a coordinator and two workers on
loopback (tests/citus_cluster.py) run the migrations, `citus_distribute` and
the Bắc Ninh demo (no dossier history) in DATABASE_DISTRIBUTION=citus; a
second province is added and dossiers are submitted and processed in both
through the portal's services (tests/citus_scenario.py). The same runs on one
PostgreSQL database; lookups, worklists, indicators and density must be
equal, the dossier tables really distributed, and a province-scoped lookup
routed to one shard.

Citus is built from vendor/citus by `./portal test` when missing: without it
this test fails (it does not skip)."""

import json
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from dossiers.citus import DISTRIBUTED_TABLES
from tests.citus_cluster import CitusCluster, citus_installed, manage, portal_env, portal_prepare
from tests.citus_scenario import SECOND_PROVINCE
from tests.clusters import private_cluster_unavailable
from tests.live import runserver

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "portal"
SINGLE_DATABASE = "portal_single"
HOME = "24"


def _deployment(url: str, *, citus: bool, timings: dict[str, float]) -> dict:
    """migrate (+ citus_distribute), load_demo, the scenario; its JSON."""
    label = "citus" if citus else "single"
    timings.update({f"{label}_{step}_s": s for step, s in portal_prepare(url, citus=citus).items()})
    if citus:
        assert manage(url, "citus_distribute", citus=True).strip() == "already distributed"
    result = subprocess.run(
        [sys.executable, "-m", "tests.citus_scenario"],
        cwd=ROOT,
        env=portal_env(url, citus=citus),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def deployments():
    reason = private_cluster_unavailable()
    assert reason is None, reason
    assert citus_installed(), "Citus is not installed: `./portal test` (or `./portal setup --citus`) builds it"
    timings: dict[str, float] = {}
    started = time.monotonic()
    with CitusCluster() as cluster:
        timings["cluster_start_s"] = time.monotonic() - started
        citus_url = cluster.create_database(DATABASE)
        # One PostgreSQL: a plain database (no citus extension) on the coordinator's server.
        single_url = cluster.coordinator.create_database(SINGLE_DATABASE)
        # The two deployments side by side: they share nothing but the host.
        with ThreadPoolExecutor(2) as pool:
            citus_run = pool.submit(_deployment, citus_url, citus=True, timings=timings)
            single_run = pool.submit(_deployment, single_url, citus=False, timings=timings)
            citus, single = citus_run.result(), single_run.result()
        citus["url"], single["url"] = citus_url, single_url
        yield cluster, citus, single, timings
    print(f"\ncitus test timings: {json.dumps({k: round(v, 1) for k, v in timings.items()})}")


def test_same_answers_as_one_postgresql(deployments):
    _cluster, citus, single, _timings = deployments
    assert len(citus["answers"]["codes"]) == 6
    for part in ("codes", "lookups", "worklists", "indicators", "density"):
        assert citus["answers"][part] == single["answers"][part], part
    # The answers say something: both provinces counted, each desk sees its own.
    totals = citus["answers"]["indicators"]["none"]["totals"]
    assert (totals["received"], totals["finished"]) == (6, 2)
    worklists = citus["answers"]["worklists"]
    assert all("H99" in code for code in worklists["motcua99"]) and worklists["motcua99"]
    assert not any("H99" in code for code in worklists["motcua"])
    assert sum(citus["answers"]["density"].values()) == 6


def _stable(value):
    """A lookup answer without its moments (the two runs submit seconds apart)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not (k == "at" or k.endswith("_at"))}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_public_lookup_over_http_gives_the_same_answers(deployments, tmp_path):
    """The portal's own server (runserver) on the coordinator and on one
    PostgreSQL: the public lookup of every dossier answers the same."""
    _cluster, citus, single, _timings = deployments
    answers = {}
    for label, deployment in (("citus", citus), ("single", single)):
        env = portal_env(deployment["url"], citus=label == "citus")
        env["PUBLIC_LOOKUP_RATE"] = "1000/min"  # the shared Redis counts every test's lookups from 127.0.0.1
        (tmp_path / label).mkdir()
        with runserver(env, tmp_path / label) as base_url:
            answers[label] = {}
            for code in citus["answers"]["codes"]:
                with urllib.request.urlopen(f"{base_url}/api/v1/dossiers/lookup/?code={code}", timeout=30) as response:
                    answers[label][code] = _stable(json.loads(response.read()))
    assert answers["citus"] == answers["single"]
    second = [code for code in citus["answers"]["codes"] if "H99" in code]
    assert {answers["citus"][code]["receiving_point"]["code"] for code in second} == {"CENTRE-99"}
    assert answers["citus"][second[0]]["status"] == "refused"


def _coordinator(cluster: CitusCluster):
    return psycopg.connect(cluster.coordinator.conninfo(DATABASE), autocommit=True)


def test_dossier_tables_distributed_by_province(deployments):
    cluster, citus, _single, _timings = deployments
    with _coordinator(cluster) as conn:
        tables = dict(
            conn.execute(
                "SELECT table_name::text, distribution_column FROM citus_tables WHERE citus_table_type = 'distributed'"
            ).fetchall()
        )
        assert tables == dict.fromkeys(DISTRIBUTED_TABLES, "province_code")
        (groups,) = conn.execute(
            "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h'"
        ).fetchone()
        assert groups == 1
        ports = {
            port
            for (port,) in conn.execute(
                "SELECT nodeport FROM citus_shards WHERE table_name = 'dossiers_dossier'::regclass"
            ).fetchall()
        }
        assert ports == set(cluster.worker_ports())
        assert conn.execute("SELECT count(*) FROM citus_tables WHERE citus_table_type = 'reference'").fetchone()[0] > 50
        # Each province's dossiers lie in the shard Citus hashes its code to, on that shard's worker.
        for province in (HOME, SECOND_PROVINCE):
            shard, port = conn.execute(
                """SELECT s.shardid, s.nodeport FROM citus_shards s
                   WHERE s.shardid = get_shard_id_for_distribution_column('dossiers_dossier', %s::text)""",
                [province],
            ).fetchone()
            worker = next(w for w in cluster.workers if w.port == port)
            with psycopg.connect(worker.conninfo(DATABASE)) as on_worker:
                (rows,) = on_worker.execute(
                    f"SELECT count(*) FROM dossiers_dossier_{shard} WHERE province_code = %s", [province]
                ).fetchone()
            assert rows == citus["routing"]["dossiers_by_province"][province] > 0


def test_province_scoped_lookup_goes_to_one_shard(deployments):
    _cluster, citus, _single, _timings = deployments
    assert "Task Count: 1\n" in citus["routing"]["scoped_lookup"] + "\n"
    assert f"province_code)::text = '{SECOND_PROVINCE}'" in citus["routing"]["scoped_lookup"]
    # A desk officer's worklist: the desk's province, one shard.
    assert "Task Count: 1\n" in citus["routing"]["desk_worklist"]
    # The national indicator read runs on every shard.
    assert "Task Count: 8" in citus["routing"]["national"]
