"""Benchmark of the planning analytics: the dossier density query and tile at
two history sizes, against a naive on-the-fly aggregation.

    .venv/bin/python bench/analytics.py --quick   # histories of 20,000 and 200,000 dossiers (< 1 min once generated)
    .venv/bin/python bench/analytics.py           # 100,000 and 5,000,000

Works in its own database (default <main db>_bench_analytics, cloned from
template_postgis, marked with a comment, migrated), loaded with the demo
units, service points, commune committees and procedure catalogue.

Density. Each history lives in its own database, both kept (the large one
in the bench database, the small one in <it>_small), generated once by
`dossiers.demo_history.dossier_history_generate` (COPY, no events; the H3
cells and the 2019 commune are computed while writing, then the pre-counted
DensityCount rows are rebuilt), then VACUUM ANALYZE (what autovacuum does
to a settled table; it lets the covering indexes answer alone). Timed
in-process: in each of --rounds rounds the two histories take turns (which
goes first alternates), each on a fresh connection after --warmup untimed
runs of every measurement, then --queries of each, the measurements taking
turns request by request in a shuffled order (the garbage collector off
while timing); p50 over all rounds, and each round's p50 for the spread. The naive baseline (seconds at
5M) is timed apart, --naive-queries runs:
  - api: GET /api/v1/analytics/density/?cell=h3&res=8 (default period, the
    last 12 months to today) through DRF's APIClient as a leader: the whole
    months summed from DensityCount, the edge days counted from the
    dossiers, polygons built in Python, GeoJSON;
  - api_months: the same for the 12 whole months before this one (what the
    page's month slider asks): DensityCount rows only;
  - api_two_filters: the busiest procedure and channel together (the pair's
    month and day rows);
  - selector: the counting alone (`density_h3_counts`), default period;
  - tile: GET /tiles/analytics/density/10/{x}/{y}.pbf?res=8 of the tile over
    the provincial centre;
  - naive: the same counts by GROUP BY ST_SnapToGrid(location, 0.005°) (a grid
    of about the size of an H3 res-8 cell) computed on the fly over the same
    dossiers, as a database without stored cells would do;
  - commune_2019: cell=commune&era=2019 (the 2019 commune stored with each
    dossier, so no spatial join any more).
Ratios: large/small per measurement (aim under 2 for api and tile), also
round by round (round i of each size, measured one after the other), and
naive/selector at each size.

Coverage. `bench/analytics_coverage.coverage_benchmark`: the population
share of every commune (both maps) within 2 km of a post office, our one
PostGIS query against the same computation in geopandas (read_postgis,
to_crs, buffer, union, intersection, areas); the full run adds 1,000
synthetic post offices. Ratio ours/geopandas, median of --coverage-repeats.

A history already in its database is reused (a table comment records its
size and seed): a rerun takes minutes, not the 5M generation. One function per measurement; the last
line of stdout is a JSON summary.
"""

import argparse
import datetime as dt
import json
import math
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    baselines_left_out,
    current_history,
    dossier_base_data,
    exit_on_sigterm,
    history_bench_open,
    history_generate,
    machine_facts,
    prepare_database,
    say,
    summarize,
    time_interleaved,
    use_database,
)

DB_MARKER = "scratch database of bench/analytics.py: dropped and reloaded at will"
DENSITY_URL = "/api/v1/analytics/density/"
TILE_Z = 10
CENTRE = (106.0763, 21.1861)  # Bắc Ninh provincial centre, lon/lat
SNAP_DEGREES = 0.005

LEFT_OUT = {
    "the small history (density ratios)": "nothing: the same requests, in the same rounds as the large one",
    "naive SnapToGrid": "H3 cells (a square grid of about their size), the edge days, polygons, GeoJSON and the "
    "request stack: it only counts",
    "geopandas (coverage)": "geodesic areas (planar in VN-2000 / UTM 48N; ratio_planar_postgis_over_geopandas "
    "compares like with like)",
    "the bench": "HTTP (in process, APIClient), the map page and the browser's drawing",
}

NAIVE_SQL = """
SELECT ST_SnapToGrid(location, %(size)s, %(size)s) AS cell, count(*)
FROM dossiers_dossier
WHERE received_at >= %(start)s AND received_at < %(end)s AND location IS NOT NULL
GROUP BY 1
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="20,000 and 200,000 dossiers, fewer requests")
    p.add_argument("--small", type=int, help="smaller history (default 100,000; quick 20,000)")
    p.add_argument("--large", type=int, help="larger history (default 5,000,000; quick 200,000)")
    p.add_argument("--queries", type=int, help="timed requests per measurement and round (default 30; quick 10)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 2)")
    p.add_argument("--warmup", type=int, default=5, help="untimed requests of each measurement first (default 5)")
    p.add_argument("--naive-queries", type=int, default=5, help="timed runs of the naive baseline (default 5)")
    p.add_argument("--recreate", action="store_true", help="drop and recreate the bench database first")
    p.add_argument("--db-name", help="bench database (default: <main db>_bench_analytics)")
    p.add_argument(
        "--settings", default="gisportal.settings.test", help="Django settings (DEBUG must be False; default test)"
    )
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--coverage-repeats", type=int, help="runs of each coverage computation (default 3; quick 1)")
    args = p.parse_args()
    args.small = args.small or (20_000 if args.quick else 100_000)
    args.large = args.large or (200_000 if args.quick else 5_000_000)
    args.queries = args.queries or (10 if args.quick else 30)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.coverage_repeats = args.coverage_repeats or (1 if args.quick else 3)
    return args


def history_mark(n: int, seed: int) -> str:
    return f"bench/analytics.py history n={n} seed={seed}"


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return x, y


def quarters_close() -> None:
    from django.db import connection

    from dossiers.density_counts import density_quarters_close

    started = time.perf_counter()
    closed = density_quarters_close()
    if closed:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE dossiers_densityquartercount")
        say(f"  {closed} ended quarters summed ({time.perf_counter() - started:.1f} s)")


class Density:
    """The density measurements on the history of the database Django uses
    when it is made (`use_database`): `modes` (timed in turns), `naive`
    (timed apart: seconds at 5M) and `facts()` (untimed: sizes, the plan)."""

    def __init__(self, leader) -> None:
        from django.db import connection
        from django.utils import timezone
        from rest_framework.test import APIClient

        from maps.density import DensityFilters, density_h3_counts
        from maps.density_apis import default_from

        client = APIClient()
        client.force_authenticate(leader)
        today = timezone.localdate()
        self.filters = filters = DensityFilters(date_from=default_from(today), date_to=today)
        x, y = _tile_of(*CENTRE, TILE_Z)
        tile_url = f"/tiles/analytics/density/{TILE_Z}/{x}/{y}.pbf"
        zone = timezone.get_current_timezone()
        naive_params = {
            "size": SNAP_DEGREES,
            "start": dt.datetime.combine(filters.date_from, dt.time.min, tzinfo=zone),
            "end": dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
        }
        this_month = today.replace(day=1)
        months = {"from": this_month.replace(year=this_month.year - 1).isoformat(),
                  "to": (this_month - dt.timedelta(days=1)).isoformat()}  # fmt: skip
        busiest = _busiest_procedure_channel()

        def get(url: str, params: dict):
            def run():
                response = client.get(url, params)
                assert response.status_code == 200, response.content[:500]
                return response

            return run

        def naive():
            with connection.cursor() as cursor:
                cursor.execute(NAIVE_SQL, naive_params)
                return cursor.fetchall()

        self.modes = {
            "api": get(DENSITY_URL, {"cell": "h3", "res": 8}),
            "api_months": get(DENSITY_URL, {"cell": "h3", "res": 8, **months}),
            "api_two_filters": get(DENSITY_URL, {"cell": "h3", "res": 8, **busiest}),
            "selector": lambda: density_h3_counts(filters=filters, res=8),
            "tile": get(tile_url, {"res": 8}),
            "commune_2019": get(DENSITY_URL, {"cell": "commune", "era": "2019"}),
        }
        self.naive = naive
        self.busiest = busiest

    def facts(self) -> dict:
        from django.db import connection

        from maps.density import density_counts_sql

        counts = self.modes["selector"]()
        two = json.loads(self.modes["api_two_filters"]().content)
        result = {
            "dossiers_in_period": sum(counts.values()),
            "cells": len(counts),
            "cells_two_filters": len(two["features"]),
            "busiest": self.busiest,
            "naive_cells": len(self.naive()),
            "geojson_bytes": len(self.modes["api"]().content),
            "tile_bytes": len(self.modes["tile"]().content),
        }
        sql, params = density_counts_sql(self.filters, 8)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0][0]["Plan"]
            cursor.execute("SELECT count(*) FROM dossiers_densitycount")
            result["precounted_rows"] = cursor.fetchone()[0]
        result["selector_plan"] = _plan_nodes(plan)
        return result


def density_measure(args, databases: dict[int, str], densities: dict[int, Density]) -> dict[int, dict]:
    """Both histories measured round by round: in round i the small one and
    the large one take turns (which goes first alternates), each after
    --warmup untimed requests of every mode on its fresh connection, so a
    change of the machine's load falls on both sizes alike."""
    samples: dict[int, dict[str, list[int]]] = {n: {} for n in databases}
    per_round: dict[int, list[dict]] = {n: [] for n in databases}
    for i in range(args.rounds):
        for n in list(databases)[:: 1 if i % 2 == 0 else -1]:
            use_database(databases[n])
            got, (this_round,) = time_interleaved(densities[n].modes, [()] * args.warmup, [()] * args.queries, 1)
            for name, values in got.items():
                samples[n].setdefault(name, []).extend(values)
            per_round[n].append(this_round)
    result = {}
    for n, db in databases.items():
        use_database(db)
        naive_samples, _ = time_interleaved({"naive": densities[n].naive}, [()], [()] * args.naive_queries, 1)
        result[n] = {
            **densities[n].facts(),
            **{name: summarize(values) for name, values in samples[n].items()},
            "naive": summarize(naive_samples["naive"]),
            "p50_by_round": per_round[n],
        }
    return result


def _busiest_procedure_channel() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.code, d.channel FROM dossiers_dossier d JOIN dossiers_procedure p ON p.id = d.procedure_id "
            "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
        )
        code, channel = cursor.fetchone()
    return {"procedure": code, "channel": channel}


def _plan_nodes(plan: dict) -> str:
    nodes = [plan["Node Type"] + (f" {plan['Index Name']}" if "Index Name" in plan else "")]
    for child in plan.get("Plans", []):
        nodes.append(_plan_nodes(child))
    return " > ".join(nodes)


def density_print(n: int, r: dict) -> None:
    say(
        f"  {n:,} dossiers ({r['dossiers_in_period']:,} in the last 12 months, {r['cells']} res-8 cells, "
        f"{r['cells_two_filters']} with the two filters): "
        f"api p50 {r['api']['p50']:.1f} ms, whole months {r['api_months']['p50']:.1f} ms, "
        f"two filters {r['api_two_filters']['p50']:.1f} ms, selector {r['selector']['p50']:.1f} ms, "
        f"tile {r['tile']['p50']:.1f} ms, "
        f"naive SnapToGrid {r['naive']['p50']:.1f} ms, 2019 communes {r['commune_2019']['p50']:.1f} ms"
    )
    say(f"  {r['precounted_rows']:,} pre-counted rows; plan: {r['selector_plan']}")


def coverage_measure(args) -> list[dict]:
    """Coverage of every commune of both maps: ours against geopandas."""
    from analytics_coverage import coverage_benchmark

    runs = []
    for era in ("2025", "2019"):
        for synthetic in (0,) if args.quick else (0, 1000):
            run = coverage_benchmark(era=era, synthetic=synthetic, repeats=args.coverage_repeats)
            say(
                f"coverage, {run['communes']} communes of {era} (+{synthetic} synthetic post offices): "
                f"PostGIS {run['postgis_s']:.3f} s, geopandas {run['geopandas_s']:.3f} s, "
                f"ratio {run['ratio_postgis_over_geopandas']}, max share difference {run['max_share_difference']:.1e}"
            )
            runs.append(run)
    return runs


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    started = time.perf_counter()
    main_url, bench_db = history_bench_open(args, default_suffix="bench_analytics", marker=DB_MARKER)

    # Each history in its own database (the large one in the bench database, the small one in
    # <it>_small), both kept: a rerun reuses both, and their rounds can take turns.
    databases = {args.small: f"{bench_db}_small", args.large: bench_db}
    prepare_database(main_url, databases[args.small], marker=DB_MARKER, recreate=args.recreate,
                     settings_module=args.settings)  # fmt: skip
    generation: dict = {}
    densities: dict = {}
    for n, db in databases.items():
        use_database(db)
        base = dossier_base_data()
        say(f"{db}: base data ready, {base['procedures']} procedures ({base['s']:.1f} s)")
        mark = history_mark(n, args.seed)
        if current_history() == mark:
            say(f"reusing the history of {n:,} dossiers already in {db}")
            quarters_close()  # as the daily task does (a history from before the quarter sums has none)
        else:
            generation[n] = history_generate(n, seed=args.seed, mark=mark, with_events=False, vacuum=True)
        densities[n] = Density(base["leader"])
    sizes = list(databases)
    density = density_measure(args, databases, densities)
    for n in sizes:
        density_print(n, density[n])
    small, large = density[args.small], density[args.large]

    def ratio(name: str) -> float:
        return large[name]["p50"] / small[name]["p50"]

    measured = ("api", "api_months", "api_two_filters", "selector", "tile", "naive", "commune_2019")
    ratios = {name: round(ratio(name), 3) for name in measured}
    # Round i of the large history against round i of the small one: the spread of the ratio.
    rounds = list(zip(small["p50_by_round"], large["p50_by_round"], strict=True))
    by_round = {
        name: [round(big[name] / little[name], 3) for little, big in rounds] for name in measured if name != "naive"
    }
    naive_vs_stored = {
        str(n): round(density[n]["naive"]["p50"] / density[n]["selector"]["p50"], 2) for n in (args.small, args.large)
    }
    say("")
    say(f"density p50 ratio {args.large:,}/{args.small:,}: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    say("by round: " + "; ".join(f"{k} {min(v):.2f}-{max(v):.2f}" for k, v in by_round.items()))
    say("naive SnapToGrid / stored H3 GROUP BY: " + ", ".join(f"{n} → {v:.1f}×" for n, v in naive_vs_stored.items()))
    use_database(bench_db)
    coverage = coverage_measure(args)
    summary = {
        "small": args.small,
        "large": args.large,
        "density_api_p50_ms": {str(n): round(density[n]["api"]["p50"], 2) for n in sizes},
        "density_api_whole_months_p50_ms": {str(n): round(density[n]["api_months"]["p50"], 2) for n in sizes},
        "density_api_two_filters_p50_ms": {str(n): round(density[n]["api_two_filters"]["p50"], 2) for n in sizes},
        "precounted_rows": {str(n): density[n]["precounted_rows"] for n in sizes},
        "density_selector_p50_ms": {str(n): round(density[n]["selector"]["p50"], 2) for n in sizes},
        "density_tile_p50_ms": {str(n): round(density[n]["tile"]["p50"], 2) for n in sizes},
        "density_naive_p50_ms": {str(n): round(density[n]["naive"]["p50"], 2) for n in sizes},
        "density_commune_2019_p50_ms": {str(n): round(density[n]["commune_2019"]["p50"], 2) for n in sizes},
        "ratio_large_to_small": ratios,
        "ratio_large_to_small_by_round": by_round,
        "ratio_naive_to_stored": naive_vs_stored,
        "target_ratio_under_2_met": ratios["api"] < 2 and ratios["tile"] < 2,
        "cells_res8": {str(n): density[n]["cells"] for n in sizes},
        "cells_res8_two_filters": {str(n): density[n]["cells_two_filters"] for n in sizes},
        "busiest_procedure_channel": {str(n): density[n]["busiest"] for n in sizes},
        "dossiers_in_period": {str(n): density[n]["dossiers_in_period"] for n in sizes},
        "selector_plan": {str(n): density[n]["selector_plan"] for n in sizes},
        "coverage": coverage,
        "ratio_coverage_postgis_to_geopandas": {
            f"{run['era']}+{run['synthetic_points']}": run["ratio_postgis_over_geopandas"] for run in coverage
        },
        "generation_s": {str(n): t["total"] for n, t in generation.items()},
        **baselines_left_out(LEFT_OUT),
        "queries": args.queries,
        "rounds": args.rounds,
        "naive_queries": args.naive_queries,
        "client": "rest_framework.test.APIClient in-process (no socket)",
        **machine_facts(started),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
