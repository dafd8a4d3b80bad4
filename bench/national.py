"""A synthetic national load: one PostgreSQL against a Citus coordinator with
two workers (tests/citus_cluster.py), for submissions, province-scoped reads
and national aggregates, at two data sizes.

Both run the portal's own schema (`migrate`, then `citus_distribute` on the
coordinator) with the Bắc Ninh catalogue, units and service points
(`load_demo`, no dossier history); dossiers are spread over the 34 provinces
of the 2025 map by population share and over `--years` years. The statements
are the ones the portal sends on those paths (the code counter and indicator
upserts, the dossier and event inserts of a submission; a lookup by code and a
desk's worklist with the province; national counts by province and status).

All three Citus nodes and the single PostgreSQL run on this one host: the
workers share its cores, disk and memory with the coordinator and with the
load generator. What this measures is the cost of the distributed layout
(routing, two-phase commit, fan-out) on one machine and how it grows with
data, not the speed-up of separate machines. Not measured: the web tier,
PgBouncer, network latency between hosts, replication, rebalancing, and
sizes beyond this machine's memory.

    .venv/bin/python bench/national.py                  # 100k and 400k dossiers, a few minutes
    .venv/bin/python bench/national.py --small 2000 --large 4000 --submissions 20 --reads 20 --aggregates 2

Last line: one JSON object."""

import argparse
import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.common import baselines_left_out, machine_facts, say, summarize  # noqa: E402
from tests.citus_cluster import CitusCluster, citus_installed, portal_prepare  # noqa: E402

# The 34 provinces of the 2025 map: GSO code, population in millions
# (rounded public figures of the merged provinces; only their shares matter).
PROVINCES = {
    "01": 8.7, "04": 0.6, "08": 1.9, "11": 0.6, "12": 0.5, "14": 1.3, "15": 1.8, "19": 1.8, "20": 0.8,
    "22": 1.4, "24": 3.6, "25": 4.0, "31": 4.7, "33": 3.6, "37": 4.4, "38": 3.8, "40": 3.8, "42": 1.6,
    "44": 1.9, "46": 1.4, "48": 3.1, "51": 2.2, "52": 3.6, "56": 2.2, "66": 3.3, "68": 3.9, "75": 4.5,
    "79": 14.0, "80": 3.3, "82": 4.2, "86": 4.3, "91": 4.9, "92": 4.2, "96": 2.6,
}  # fmt: skip
MODES = ("single", "citus")
DATABASE = "national"


LEFT_OUT = {
    "single node": "nothing of the work: both modes run the same statements; the workers share this host, so "
    "Citus is measured for its overhead and growth, not for the speed-up of separate machines",
    "the bench": "the web tier, PgBouncer, network latency between hosts, replicas, rebalancing, data beyond "
    "this machine's memory",
}


def _thresholds() -> tuple[list[str], list[float]]:
    codes = list(PROVINCES)
    total = sum(PROVINCES.values())
    running, cuts = 0.0, []
    for code in codes[:-1]:
        running += PROVINCES[code] / total
        cuts.append(round(running, 6))
    return codes, cuts


class Target:
    """One deployment: its conninfo and the demo rows a dossier points to."""

    def __init__(self, name: str, conninfo: str, *, citus: bool):
        self.name, self.conninfo, self.citus = name, conninfo, citus
        with self.connect() as conn:
            self.procedure_id, self.agency_id = conn.execute(
                "SELECT id, agency_id FROM dossiers_procedure WHERE is_active ORDER BY code LIMIT 1"
            ).fetchone()
            self.point_id = conn.execute("SELECT id FROM layers_servicepoint WHERE code = 'CENTRE-MAIN'").fetchone()[0]
        self.rows = 0

    def connect(self) -> psycopg.Connection:
        options = "-c jit=off"
        if self.citus:
            options += " -c citus.multi_shard_modify_mode=sequential"
        return psycopg.connect(self.conninfo, autocommit=True, options=options)

    def fill(self, upto: int, *, years: int) -> float:
        """Dossiers self.rows+1..upto: provinces by population share, receipt
        spread over `years`, a third finished."""
        codes, cuts = _thresholds()
        started = time.perf_counter()
        with self.connect() as conn:
            conn.execute(
                """INSERT INTO dossiers_dossier (province_code, code, procedure_id, applicant_name,
                       applicant_id_number, applicant_phone, applicant_email, applicant_address, channel,
                       receiving_point_id, agency_id, receiving_agency_id, status, submitted_at, received_at, due_at,
                       finished_at, timeliness, paused_working_days, supplement_count, result_delivery,
                       delivery_address, fee_vnd, note, is_demo, updated_at)
                   SELECT p, 'N' || p || '-' || g, %(procedure)s, 'Công dân ' || g, lpad(g::text, 12, '0'), '', '',
                          'Địa chỉ ' || g, 1 + g %% 3, %(point)s, %(agency)s, %(agency)s,
                          CASE WHEN g %% 3 = 0 THEN 'result_returned' WHEN g %% 3 = 1 THEN 'processing'
                               ELSE 'received' END,
                          r, r, r + interval '15 days', CASE WHEN g %% 3 = 0 THEN r + interval '7 days' END,
                          CASE WHEN g %% 3 = 0 THEN 'early' ELSE '' END, 0, 0, 'desk', '', 0, '', true, r
                   FROM (SELECT g, (%(codes)s::text[])[1 + width_bucket(((g * 2654435761) %% 1000003) / 1000003.0,
                                    %(cuts)s::numeric[])] AS p,
                                now() - ((g * 7919) %% (%(days)s * 1440)) * interval '1 minute' AS r
                         FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g) AS s""",
                {
                    "procedure": self.procedure_id,
                    "point": self.point_id,
                    "agency": self.agency_id,
                    "codes": codes,
                    "cuts": cuts,
                    "days": years * 365,
                    "first": self.rows + 1,
                    "last": upto,
                },
            )
            conn.execute("ANALYZE dossiers_dossier")
        self.rows = upto
        return time.perf_counter() - started

    def sample_codes(self, n: int) -> list[tuple[str, str]]:
        rng = random.Random(n)
        picks = sorted(rng.sample(range(1, self.rows + 1), min(n, self.rows)))
        with self.connect() as conn:
            return [(f"N{p}-{g}", p) for g, p in self._provinces_of(conn, picks)]

    @staticmethod
    def _provinces_of(conn, numbers: list[int]) -> list[tuple[int, str]]:
        codes, cuts = _thresholds()
        return conn.execute(
            """SELECT g, (%s::text[])[1 + width_bucket(((g * 2654435761) %% 1000003) / 1000003.0, %s::numeric[])]
               FROM unnest(%s::bigint[]) AS g""",
            [codes, cuts, numbers],
        ).fetchall()


# --------------------------------------------------------------------------- operations

_counter = iter(range(10**12))
_counter_lock = threading.Lock()


def _next() -> int:
    with _counter_lock:
        return next(_counter)


def submit(conn: psycopg.Connection, target: Target, province: str) -> None:
    """What a desk submission writes, in one transaction: the code counter,
    the dossier, its event, the indicator row of the day."""
    number = _next()
    with conn.transaction():
        (last,) = conn.execute(
            "INSERT INTO dossiers_codecounter (province_code, unit_identifier, day, last) "
            "VALUES (%s, %s, current_date, 1) ON CONFLICT (unit_identifier, day, province_code) "
            "DO UPDATE SET last = dossiers_codecounter.last + 1 RETURNING last",
            [province, f"BENCH.{province}"],
        ).fetchone()
        (dossier_id,) = conn.execute(
            """INSERT INTO dossiers_dossier (province_code, code, procedure_id, applicant_name,
                   applicant_id_number, applicant_phone, applicant_email, applicant_address, channel,
                   receiving_point_id, agency_id, receiving_agency_id, status, submitted_at, received_at, due_at,
                   timeliness, paused_working_days, supplement_count, result_delivery, delivery_address, fee_vnd,
                   note, is_demo, updated_at)
               VALUES (%s, %s, %s, 'Công dân', '001099000001', '', '', 'Địa chỉ', 1, %s, %s, %s, 'received',
                       now(), now(), now() + interval '15 days', '', 0, 0, 'desk', '', 0, '', false, now())
               RETURNING id""",
            [province, f"S{province}-{number}-{last}", target.procedure_id, target.point_id]
            + [target.agency_id, target.agency_id],
        ).fetchone()
        conn.execute(
            """INSERT INTO dossiers_dossierevent (province_code, dossier_id, action, from_status, to_status,
                   actor_name, actor_role, note, at)
               VALUES (%s, %s, 'submit', '', 'received', 'Cán bộ', 'desk_officer', '', now())""",
            [province, dossier_id],
        )
        conn.execute(
            """INSERT INTO dossiers_dailystat AS s (province_code, day, dimension, key, received, online, finished,
                   early, on_time, late, processing_days_sum)
               VALUES (%s, current_date, 'all', 0, 1, 0, 0, 0, 0, 0, 0)
               ON CONFLICT (dimension, key, day, province_code) DO UPDATE SET received = s.received + 1""",
            [province],
        )


def lookup(conn: psycopg.Connection, target: Target, code: str, province: str) -> None:
    """A lookup by code and a desk's worklist, both with the province (as the
    portal sends them in the Citus mode)."""
    conn.execute(
        "SELECT id, status, due_at FROM dossiers_dossier WHERE code = %s AND province_code = %s", [code, province]
    ).fetchall()
    conn.execute(
        """SELECT id, code, status, received_at FROM dossiers_dossier
           WHERE receiving_point_id = %s AND province_code = %s AND status = 'received'
           ORDER BY received_at DESC LIMIT 20""",
        [target.point_id, province],
    ).fetchall()


def national(conn: psycopg.Connection, target: Target) -> None:
    """National indicators: receipts and finishes by province and status over
    the last year, from the dossiers (every shard)."""
    conn.execute(
        """SELECT province_code, status, count(*), count(finished_at),
                  avg(extract(epoch FROM finished_at - received_at)) FILTER (WHERE finished_at IS NOT NULL)
           FROM dossiers_dossier WHERE received_at >= now() - interval '365 days'
           GROUP BY 1, 2"""
    ).fetchall()


def _timed(target: Target, work: list, operation, clients: int) -> dict:
    """Runs `work` (argument tuples) over `clients` connections; throughput and latencies."""
    samples: list[int] = []
    lock = threading.Lock()
    chunks = [work[i::clients] for i in range(clients)]

    def client(chunk):
        own = []
        with target.connect() as conn:
            for args in chunk:
                started = time.perf_counter_ns()
                operation(conn, target, *args)
                own.append(time.perf_counter_ns() - started)
        with lock:
            samples.extend(own)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, [c for c in chunks if c]))
    wall = time.perf_counter() - started
    stats = summarize(samples)
    return {"per_s": round(len(samples) / wall, 1), "p50_ms": round(stats["p50"], 2), "p95_ms": round(stats["p95"], 2)}


def measure(target: Target, args, rng: random.Random) -> dict:
    codes, _ = _thresholds()
    weights = [PROVINCES[c] for c in codes]
    provinces = rng.choices(codes, weights=weights, k=args.submissions)
    sample = target.sample_codes(args.reads)
    return {
        "submissions": _timed(target, [(p,) for p in provinces], submit, args.clients),
        "province_reads": _timed(target, sample, lookup, args.clients),
        "national_aggregates": _timed(target, [()] * args.aggregates, national, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=100_000, help="dossiers at the first size")
    parser.add_argument("--large", type=int, default=400_000, help="dossiers at the second size")
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--submissions", type=int, default=400, help="submissions per mode and size")
    parser.add_argument("--reads", type=int, default=400, help="province-scoped reads per mode and size")
    parser.add_argument("--aggregates", type=int, default=5, help="national aggregate queries per mode and size")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--shards", type=int, default=32, help="Citus shard count (Citus's default)")
    args = parser.parse_args()
    if not citus_installed():
        sys.exit("Citus is not installed: ./portal setup --citus builds it from vendor/citus")
    started = time.perf_counter()
    result: dict = {"workers": 2, "shards": args.shards, "years": args.years, "same_host": True}
    with CitusCluster(shard_count=args.shards) as cluster:
        result["cluster_start_s"] = round(time.perf_counter() - started, 1)
        citus_url = cluster.create_database(DATABASE)
        single_url = cluster.coordinator.create_database(f"{DATABASE}_single")
        with ThreadPoolExecutor(2) as pool:
            single_prepare = pool.submit(portal_prepare, single_url, citus=False)
            citus_prepare = pool.submit(portal_prepare, citus_url, citus=True)
            result["prepare_s"] = {"single": single_prepare.result(), "citus": citus_prepare.result()}
        targets = {
            "single": Target("single", cluster.coordinator.conninfo(f"{DATABASE}_single"), citus=False),
            "citus": Target("citus", cluster.coordinator.conninfo(DATABASE), citus=True),
        }
        for size in (args.small, args.large):
            key = f"n{size}"
            result[key] = {}
            for mode in MODES:
                took = targets[mode].fill(size, years=args.years)
                say(f"{mode}: {size:,} dossiers ({took:.1f} s to add)")
                result[key][f"fill_s_{mode}"] = round(took, 1)
            # Interleaved: the two modes alternate, so a busy moment of the host hits both.
            rng = random.Random(size)
            runs = {mode: measure(targets[mode], args, rng) for mode in (MODES if size == args.small else MODES[::-1])}
            for mode in MODES:
                result[key][mode] = runs[mode]
                say(f"  {mode}: {json.dumps(runs[mode])}")
            result[key]["ratio_citus_over_single"] = {
                op: {
                    "per_s": round(runs["citus"][op]["per_s"] / runs["single"][op]["per_s"], 2),
                    "p95": round(runs["citus"][op]["p95_ms"] / max(runs["single"][op]["p95_ms"], 0.01), 2),
                }
                for op in runs["single"]
            }
        small, large = result[f"n{args.small}"], result[f"n{args.large}"]
        result["growth_p95_large_over_small"] = {
            mode: {op: round(large[mode][op]["p95_ms"] / max(small[mode][op]["p95_ms"], 0.01), 2) for op in small[mode]}
            for mode in MODES
        }
    result.update(baselines_left_out(LEFT_OUT))
    result.update(machine_facts(started))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
