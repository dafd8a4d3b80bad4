"""Benchmark of the batch nearest (`layers.batch_nearest`): every point of a
Point registry to its nearest service point of one kind, ours against
geopandas `sjoin_nearest` on the same data, and the set-based SQL KNN on a
sample.

    .venv/bin/python bench/batch_nearest.py --tiny   # 2,000 points, 100 service points (smoke run, < 1 min)
    .venv/bin/python bench/batch_nearest.py          # 1,000,000 points, 10,000 service points

Works in its own database (default <main db>_bench_batch_nearest, cloned from
template_postgis, marked with a comment, migrated), loaded with the demo units
and service points; the points are features of one Point layer (70% around
300 seeded centres, 30% spread over the province) and the service points of
kind post_office are topped up to --service-points with synthetic ones (codes
BENCH-BN-*, the same seeded way). Both are made once per size and reused.

What each side computes, from the same tables to a stored table of
(point id, service point id, metres):
  - ours: `nearest_run_execute` of a queued run, as the worker runs it: the
    points read by binary COPY in chunks, candidates from a grid, the
    geodesic (pyproj/geographiclib, WGS84) of the few that can win, exactness
    proven per point with a metric bound (wider search where it is not),
    written by binary COPY into layers_nearestassignment (primary key
    run, point) and committed with the run's status.
  - geopandas: `read_postgis` of the points and of the service points,
    `to_crs(EPSG:3405)` (VN-2000 / UTM zone 48N), `sjoin_nearest` with
    `distance_col` (planar nearest and planar metres in that projection),
    equidistant ties reduced to the lower service point id, then COPY of
    (point id, service point id, metres) into a table with a primary key on
    the point, committed. Its phases are timed too; "sjoin_nearest alone" is
    the join without reading, projecting or writing.
  - sql_knn (on --sql-sample points only, reported per point): one
    INSERT ... SELECT with CROSS JOIN LATERAL (ORDER BY geom <-> p.geom
    LIMIT 4) over the (kind, geom) GiST index and ST_Distance(geography, true)
    of the four candidates, the lowest kept (not proven exact: a fifth could
    be nearer in metres).
Modes run interleaved (the order alternates per round) after one untimed
warm-up of each; medians and min-max are reported with the ratio of medians
and its range over rounds.

Agreement (judged on the last round's answers, point by point): the same
service point id, or a tie: the geodesic metres (pyproj) from the point to
geopandas' choice within 0.01% of ours (planar UTM and geodesic metres rank
two nearly equidistant points differently). Ours is also checked never to be
farther (geodesically) than geopandas' choice. The mismatch count is printed.

Not measured: the Celery queue's latency (the run is executed in this
process), the HTTP API, a second service point kind, dossiers or feedback as
the source (the same code path with another table), memory.
"""

import argparse
import io
import json
import os
import signal
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    baselines_left_out,
    bench_open,
    conninfo_from_url,
    exit_on_sigterm,
    machine_facts,
    say,
)

DB_MARKER = "scratch database of bench/batch_nearest.py: dropped and reloaded at will"
LAYER_SLUG = "bench-batch-nearest"
KIND = "post_office"
SP_PREFIX = "BENCH-BN-"
# Bắc Ninh (2025 province), lon/lat box used for the synthetic data.
BOX = (105.90, 20.95, 106.40, 21.30)
TIE_RELATIVE = 1e-4


LEFT_OUT = {
    "geopandas": "the geodesic distance (it picks the planar nearest in VN-2000 / UTM 48N and reports planar "
    "metres), the proof of each answer, the run's row with its status and progress",
    "SQL KNN": "the proof (4 planar candidates a point, then geodesic metres), the run's bookkeeping; timed on "
    "a sample of the points only",
    "the bench": "the Celery queue's latency (the run executes in this process), the HTTP API, memory, dossiers "
    "or feedback as the source, other service point kinds",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="2,000 points and 100 service points, 2 rounds")
    p.add_argument("--points", type=int, help="points (default 1,000,000; tiny 2,000)")
    p.add_argument("--service-points", type=int, help="service points of the kind (default 10,000; tiny 100)")
    p.add_argument("--rounds", type=int, help="timed rounds of each mode (default 5; tiny 2)")
    p.add_argument("--sql-sample", type=int, help="points of the SQL KNN mode (default 20,000; tiny 500)")
    p.add_argument("--recreate", action="store_true", help="drop and recreate the bench database first")
    p.add_argument("--db-name", help="bench database (default: <main db>_bench_batch_nearest)")
    p.add_argument("--settings", default="gisportal.settings.test", help="Django settings (DEBUG must be False)")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args()
    args.points = args.points or (2_000 if args.tiny else 1_000_000)
    args.service_points = args.service_points or (100 if args.tiny else 10_000)
    args.rounds = args.rounds or (2 if args.tiny else 5)
    args.sql_sample = min(args.sql_sample or (500 if args.tiny else 20_000), args.points)
    return args


# --- data -------------------------------------------------------------------------------------------------


def _clustered_points_sql(*, count: int, seed: int, centres: int) -> str:
    """SELECT of `count` lon/lat points: 70% Gaussian around seeded centres, the rest uniform in BOX."""
    west, south, east, north = BOX
    return f"""
        WITH s AS (SELECT setseed({(seed % 1000) / 1000.0})),
        c AS (SELECT i, {west} + random() * {east - west} AS lon, {south} + random() * {north - south} AS lat
              FROM s, generate_series(0, {centres - 1}) i),
        n AS (SELECT g, random() AS r1, random() AS r2, random() AS r3, floor(random() * {centres})::int AS ci
              FROM generate_series(1, {count}) g)
        SELECT n.g,
               CASE WHEN n.r1 < 0.7 THEN c.lon + 0.02 * sqrt(-2 * ln(1 - n.r2)) * cos(2 * pi() * n.r3)
                    ELSE {west} + n.r2 * {east - west} END AS lon,
               CASE WHEN n.r1 < 0.7 THEN c.lat + 0.02 * sqrt(-2 * ln(1 - n.r2)) * sin(2 * pi() * n.r3)
                    ELSE {south} + n.r3 * {north - south} END AS lat
        FROM n JOIN c ON c.i = n.ci"""


def data_ensure(args) -> dict:
    """The Point layer of args.points features and args.service_points active
    service points of KIND; made unless the marks say they are there."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from gisportal.accounts.models import Agency
    from layers.models import AdministrativeUnit, Feature, GeometryType, Layer, ServicePoint
    from layers.registries.services import layer_create_or_update

    started = time.perf_counter()
    if not AdministrativeUnit.objects.exists():
        say("loading the demo units and service points (load_demo_layers) ...")
        call_command("load_demo_layers", verbosity=0)
    mark = f"points={args.points} service_points={args.service_points} seed={args.seed}"
    layer = Layer.objects.filter(slug=LAYER_SLUG).first()
    if layer is not None and layer.description == mark:
        say(f"reusing {args.points:,} points and {args.service_points:,} service points ({mark})")
        return {"layer_id": layer.pk, "made_s": 0.0}
    say(f"making {args.points:,} points and {args.service_points:,} service points ...")
    layer = layer_create_or_update(
        slug=LAYER_SLUG,
        title="Bench: batch nearest points",
        owner=Agency.objects.order_by("pk").first(),
        geometry_type=GeometryType.POINT,
        schema=[],
        visibility="internal",
    )
    with transaction.atomic(), connection.cursor() as cursor:
        Feature.objects.filter(layer=layer).delete()
        cursor.execute(
            f"""INSERT INTO layers_feature (layer_id, geom, properties, created_at, updated_at)
                SELECT %s, ST_SetSRID(ST_MakePoint(lon, lat), 4326), '{{}}'::jsonb, now(), now()
                FROM ({_clustered_points_sql(count=args.points, seed=args.seed, centres=300)}) p""",
            [layer.pk],
        )
        ServicePoint.objects.filter(code__startswith=SP_PREFIX).delete()
        existing = ServicePoint.objects.filter(is_active=True, kind=KIND).count()
        extra = max(args.service_points - existing, 0)
        cursor.execute(
            f"""INSERT INTO layers_servicepoint (code, kind, name, address, geom, opening_hours, counters, phone,
                                                 receiving_unit_identifier, is_demo, is_active, updated_at)
                SELECT '{SP_PREFIX}' || g, %s, 'Bench ' || g, '', ST_SetSRID(ST_MakePoint(lon, lat), 4326), '', 1,
                       '', '', true, true, now()
                FROM ({_clustered_points_sql(count=extra, seed=args.seed + 1, centres=300)}) p""",
            [KIND],
        )
    Layer.objects.filter(pk=layer.pk).update(description=mark)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE layers_feature")
        cursor.execute("VACUUM ANALYZE layers_servicepoint")
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_gpd_nearest "
            "(point_id bigint PRIMARY KEY, service_point_id bigint NOT NULL, distance_m float8 NOT NULL)"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_sql_nearest "
            "(point_id bigint PRIMARY KEY, service_point_id bigint NOT NULL, distance_m float8 NOT NULL)"
        )
    return {"layer_id": layer.pk, "made_s": round(time.perf_counter() - started, 1)}


# --- the modes --------------------------------------------------------------------------------------------


def ours(layer_id: int) -> tuple[float, dict]:
    from layers.batch_nearest import nearest_run_create, nearest_run_execute
    from layers.models import NearestRun

    run = nearest_run_create(source="features", kind=KIND, layer_id=layer_id, enqueue=False)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    ran = nearest_run_execute(run_id=run.pk, timings=timings)
    elapsed = time.perf_counter() - started
    assert ran is not None and ran.status == NearestRun.Status.SUCCEEDED, ran and ran.message
    phases = {f"{k}_s": v for k, v in timings.items()}
    return elapsed, {"run_id": ran.pk, "points": ran.points, "service_points": ran.service_points, "phases": phases}


def ours_answers(run_id: int):
    import numpy as np
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT point_id, service_point_id, distance_m FROM layers_nearestassignment WHERE run_id = %s "
            "ORDER BY point_id",
            [run_id],
        )
        rows = np.array(cursor.fetchall(), dtype=np.float64)
    return rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2]


def clear_runs() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE layers_nearestassignment")  # the bench database's own rows only
        cursor.execute("DELETE FROM layers_nearestrun")


def geopandas_join(layer_id: int, conninfo: str) -> tuple[float, dict, object]:
    import geopandas as gpd
    import psycopg

    phases = {}
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas prefers SQLAlchemy; a DBAPI connection works
        t = time.perf_counter()
        points = gpd.read_postgis(
            f"SELECT id AS point_id, geom FROM layers_feature WHERE layer_id = {int(layer_id)}", conn, geom_col="geom"
        )
        service = gpd.read_postgis(
            f"SELECT id AS service_point_id, geom FROM layers_servicepoint WHERE is_active AND kind = '{KIND}'",
            conn,
            geom_col="geom",
        )
        phases["read_s"] = time.perf_counter() - t
        t = time.perf_counter()
        points, service = points.to_crs(3405), service.to_crs(3405)
        phases["to_crs_s"] = time.perf_counter() - t
        t = time.perf_counter()
        joined = gpd.sjoin_nearest(points, service, how="left", distance_col="distance_m")
        # sjoin_nearest keeps every equidistant match: the lower id, like ours.
        joined = joined.sort_values(["point_id", "distance_m", "service_point_id"]).drop_duplicates("point_id")
        phases["sjoin_nearest_s"] = time.perf_counter() - t
        t = time.perf_counter()
        buffer = io.StringIO()
        joined[["point_id", "service_point_id", "distance_m"]].to_csv(buffer, index=False, header=False)
        with conn.cursor() as cursor:
            cursor.execute("TRUNCATE bench_gpd_nearest")
            with cursor.copy("COPY bench_gpd_nearest FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
        conn.commit()
        phases["write_s"] = time.perf_counter() - t
    elapsed = time.perf_counter() - started
    answers = (
        joined["point_id"].to_numpy(),
        joined["service_point_id"].to_numpy(),
        joined["distance_m"].to_numpy(),
    )
    return elapsed, phases, answers


SQL_KNN = f"""
INSERT INTO bench_sql_nearest (point_id, service_point_id, distance_m)
SELECT p.id, c.id, c.m
FROM (SELECT id, geom FROM layers_feature WHERE layer_id = %(layer)s ORDER BY id LIMIT %(sample)s) p
CROSS JOIN LATERAL (
    SELECT s.id, ST_Distance(s.geom::geography, p.geom::geography, true) AS m
    FROM (SELECT id, geom FROM layers_servicepoint WHERE is_active AND kind = '{KIND}'
          ORDER BY geom <-> p.geom LIMIT 4) s
    ORDER BY 2, 1 LIMIT 1
) c"""


def sql_knn(layer_id: int, sample: int) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE bench_sql_nearest")
        cursor.execute(SQL_KNN, {"layer": layer_id, "sample": sample})
    return time.perf_counter() - started


# --- agreement --------------------------------------------------------------------------------------------


def agreement(ours_rows, gpd_rows, layer_id: int) -> dict:
    import numpy as np
    from django.db import connection
    from pyproj import Geod

    o_pid, o_sid, o_m = ours_rows
    g_pid, g_sid, _ = gpd_rows
    order = np.argsort(g_pid)
    g_pid, g_sid = g_pid[order], g_sid[order]
    assert np.array_equal(o_pid, g_pid), "the two sides assigned different sets of points"
    differ = np.flatnonzero(o_sid != g_sid)
    result = {"points": int(len(o_pid)), "same_id": int(len(o_pid) - len(differ)), "ties": 0, "mismatches": 0}
    result["ours_farther"] = 0
    result["max_relative_difference_of_differing"] = 0.0
    if len(differ):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, ST_X(geom), ST_Y(geom) FROM layers_feature WHERE id = ANY(%s) ORDER BY id",
                [o_pid[differ].tolist()],
            )
            where = {pid: (x, y) for pid, x, y in cursor.fetchall()}
            cursor.execute(
                "SELECT id, ST_X(geom), ST_Y(geom) FROM layers_servicepoint WHERE id = ANY(%s)",
                [np.unique(g_sid[differ]).tolist()],
            )
            sp_where = {sid: (x, y) for sid, x, y in cursor.fetchall()}
        lon = np.array([where[p][0] for p in o_pid[differ]])
        lat = np.array([where[p][1] for p in o_pid[differ]])
        s_lon = np.array([sp_where[s][0] for s in g_sid[differ]])
        s_lat = np.array([sp_where[s][1] for s in g_sid[differ]])
        theirs_m = np.asarray(Geod(ellps="WGS84").inv(lon, lat, s_lon, s_lat)[2])
        relative = (theirs_m - o_m[differ]) / np.maximum(o_m[differ], 1e-9)
        result["ours_farther"] = int(np.sum(relative < -1e-9))
        ties = np.abs(relative) <= TIE_RELATIVE
        result["ties"] = int(ties.sum())
        result["mismatches"] = int(len(differ) - ties.sum())
        result["max_relative_difference_of_differing"] = float(np.abs(relative).max())
    return result


# --- main -------------------------------------------------------------------------------------------------


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    started = time.perf_counter()
    sizes = f"{args.points:,} points, {args.service_points:,} service points of {KIND}"
    main_url, bench_db, bench_url = bench_open(
        args, default_suffix="bench_batch_nearest", marker=DB_MARKER, sizes=sizes
    )
    conninfo = conninfo_from_url(bench_url)
    data = data_ensure(args)
    layer_id = data["layer_id"]
    clear_runs()

    say("warm-up: one untimed run of each mode")
    ours(layer_id)
    clear_runs()
    geopandas_join(layer_id, conninfo)
    sql_knn(layer_id, args.sql_sample)

    times: dict[str, list[float]] = {"ours": [], "geopandas": [], "sql_knn_sample": []}
    gpd_phases: list[dict] = []
    ours_phases: list[dict] = []
    last_ours = last_gpd = None
    for round_no in range(args.rounds):
        order = ["ours", "geopandas", "sql_knn_sample"]
        if round_no % 2:
            order.reverse()
        for mode in order:
            if mode == "ours":
                clear_runs()
                elapsed, info = ours(layer_id)
                last_ours, service_points = info["run_id"], info["service_points"]
                ours_phases.append(info["phases"])
            elif mode == "geopandas":
                elapsed, phases, last_gpd = geopandas_join(layer_id, conninfo)
                gpd_phases.append(phases)
            else:
                elapsed = sql_knn(layer_id, args.sql_sample)
            times[mode].append(elapsed)
        say(
            f"round {round_no + 1}/{args.rounds} ({', '.join(order)}): ours {times['ours'][-1]:.2f} s, "
            f"geopandas {times['geopandas'][-1]:.2f} s, "
            f"SQL KNN on {args.sql_sample:,} {times['sql_knn_sample'][-1]:.2f} s"
        )
    agree = agreement(ours_answers(last_ours), last_gpd, layer_id)
    clear_runs()

    ours_s, gpd_s = spread(times["ours"]), spread(times["geopandas"])
    sql_s = spread(times["sql_knn_sample"])
    round_ratios = [o / g for o, g in zip(times["ours"], times["geopandas"], strict=True)]
    ratio = ours_s["median"] / gpd_s["median"]
    phase_medians = {k: round(statistics.median(p[k] for p in gpd_phases), 3) for k in gpd_phases[0]}
    ours_phase_medians = {k: round(statistics.median(p[k] for p in ours_phases), 3) for k in ours_phases[0]}
    sql_per_point_us = sql_s["median"] / args.sql_sample * 1e6
    ours_per_point_us = ours_s["median"] / args.points * 1e6
    say("")
    say(
        f"ours      median {ours_s['median']:.2f} s (min {ours_s['min']:.2f}, max {ours_s['max']:.2f}); phases "
        + ", ".join(f"{k} {v:.2f}" for k, v in ours_phase_medians.items())
    )
    say(
        f"geopandas median {gpd_s['median']:.2f} s (min {gpd_s['min']:.2f}, max {gpd_s['max']:.2f}); phases "
        + ", ".join(f"{k} {v:.2f}" for k, v in phase_medians.items())
    )
    say(
        f"ratio ours/geopandas {ratio:.3f} (rounds {min(round_ratios):.3f}-{max(round_ratios):.3f}); "
        f"ours/sjoin_nearest alone {ours_s['median'] / phase_medians['sjoin_nearest_s']:.2f}"
    )
    say(
        f"SQL KNN (LATERAL, k=4, geodesic) {sql_per_point_us:.1f} µs a point against ours {ours_per_point_us:.2f} µs "
        f"(its sample of {args.sql_sample:,}: {sql_s['median']:.2f} s)"
    )
    say(
        f"agreement: {agree['same_id']:,} of {agree['points']:,} the same service point, {agree['ties']} ties "
        f"(within {TIE_RELATIVE:.0e} in metres), mismatches {agree['mismatches']}, ours farther {agree['ours_farther']}"
    )
    load = os.getloadavg()[0]
    summary = {
        "points": args.points,
        "service_points": service_points,
        "kind": KIND,
        "rounds": args.rounds,
        "ours_s": {k: round(v, 3) for k, v in ours_s.items()},
        "geopandas_s": {k: round(v, 3) for k, v in gpd_s.items()},
        "geopandas_phases_median_s": phase_medians,
        "ours_phases_median_s": ours_phase_medians,
        "ratio_ours_over_geopandas": round(ratio, 3),
        "ratio_range_over_rounds": [round(min(round_ratios), 3), round(max(round_ratios), 3)],
        "target_ratio_at_most_0_5_met": ratio <= 0.5,
        "sql_knn_sample_points": args.sql_sample,
        "sql_knn_sample_s": {k: round(v, 3) for k, v in sql_s.items()},
        "sql_knn_us_per_point": round(sql_per_point_us, 2),
        "ours_us_per_point": round(ours_per_point_us, 3),
        "agreement": agree,
        "mismatches": agree["mismatches"],
        "data_made_s": data["made_s"],
        **baselines_left_out(LEFT_OUT),
        **machine_facts(started),
        "load_avg_1m": round(load, 2),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
