"""Coverage of all communes: our selector (one PostGIS query) against the same
computation in geopandas (read_postgis, to_crs(3405), buffer, union,
intersection, areas).

    .venv/bin/python bench/analytics_coverage.py [--era 2025] [--kind post_office] [--radius 2000]
                                                 [--synthetic 1000] [--repeats 3]

Read-only: runs against DATABASE_URL (default: the developer database, which
must hold the demo units and service points). The synthetic service points
are passed to both sides as extra sites, so nothing is written. Prints the
timings and ratios; the last line is a JSON summary."""

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisportal.settings.dev")
    import django

    django.setup()


def _synthetic_sites(*, era: str, count: int, seed: int = 7) -> list[tuple[float, float]]:
    """Random points inside the province of the era (rejection sampling)."""
    import numpy as np
    import shapely

    from layers.models import AdministrativeUnit

    province = shapely.from_wkb(bytes(AdministrativeUnit.objects.get(era=era, level="province").geom.wkb))
    shapely.prepare(province)
    rng = np.random.default_rng(seed)
    min_x, min_y, max_x, max_y = province.bounds
    sites: list[tuple[float, float]] = []
    while len(sites) < count:
        xs = rng.uniform(min_x, max_x, count)
        ys = rng.uniform(min_y, max_y, count)
        inside = shapely.contains_xy(province, xs, ys)
        sites.extend(zip(xs[inside].tolist(), ys[inside].tolist(), strict=True))
    return sites[:count]


def _geopandas_coverage(*, era: str, kind: str, radius_m: float, extra_sites: list[tuple[float, float]]) -> dict:
    import geopandas as gpd
    import shapely
    from django.db import connection

    connection.ensure_connection()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas prefers SQLAlchemy; a DB-API connection works
        communes = gpd.read_postgis(
            "SELECT code, population, geom FROM layers_administrativeunit WHERE level = 'commune' AND era = %(era)s",
            connection.connection,
            geom_col="geom",
            params={"era": era},
        )
        points = gpd.read_postgis(
            "SELECT code, geom FROM layers_servicepoint WHERE is_active AND (%(kind)s = 'any' OR kind = %(kind)s)",
            connection.connection,
            geom_col="geom",
            params={"kind": kind},
        )
    read_done = time.perf_counter()
    if extra_sites:
        extra = gpd.GeoSeries(shapely.points(extra_sites), crs=4326)
        geoms = gpd.GeoSeries(list(points.geometry) + list(extra), crs=4326)
    else:
        geoms = points.geometry
    cover = geoms.to_crs(3405).buffer(radius_m, quad_segs=16).union_all()
    metric = communes.to_crs(3405)
    share = metric.geometry.intersection(cover).area / metric.geometry.area
    known = communes.population.notna()
    population = communes.population[known].astype(float)
    covered = float((population * share[known]).sum())
    return {
        "read_done": read_done,
        "shares": dict(zip(communes.code, share.tolist(), strict=True)),
        "covered_population": covered,
        "population": float(population.sum()),
    }


def _timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def coverage_benchmark(
    *, era: str = "2025", kind: str = "post_office", radius_m: float = 2000.0, synthetic: int = 0, repeats: int = 3
) -> dict:
    """Median seconds of both computations over `repeats` runs, their ratio
    and how far their answers differ (max per-commune share difference)."""
    _django()
    from maps.coverage import coverage_by_commune

    sites = _synthetic_sites(era=era, count=synthetic) if synthetic else []
    # One untimed run of each side: imports, connection, PROJ set-up.
    coverage_by_commune(kind=kind, radius_m=radius_m, era=era, extra_sites=sites)
    _geopandas_coverage(era=era, kind=kind, radius_m=radius_m, extra_sites=sites)
    ours_s, ours = _timed(
        lambda: coverage_by_commune(kind=kind, radius_m=radius_m, era=era, extra_sites=sites), repeats
    )
    starts: list[float] = []

    def run_geopandas():
        starts.append(time.perf_counter())
        return _geopandas_coverage(era=era, kind=kind, radius_m=radius_m, extra_sites=sites)

    gpd_s, theirs = _timed(run_geopandas, repeats)
    # The same work as geopandas: no geodesic commune areas.
    planar_s, _ = _timed(
        lambda: coverage_by_commune(kind=kind, radius_m=radius_m, era=era, extra_sites=sites, geodesic_area=False),
        repeats,
    )
    read_s = theirs["read_done"] - starts[-1]
    diff = max(abs(c["share"] - theirs["shares"][c["code"]]) for c in ours["communes"])
    return {
        "era": era,
        "kind": kind,
        "radius_m": radius_m,
        "synthetic_points": synthetic,
        "communes": len(ours["communes"]),
        "postgis_s": round(ours_s, 4),
        "postgis_planar_area_s": round(planar_s, 4),
        "geopandas_s": round(gpd_s, 4),
        "geopandas_read_s": round(read_s, 4),
        "ratio_postgis_over_geopandas": round(ours_s / gpd_s, 3) if gpd_s else None,
        "ratio_planar_postgis_over_geopandas": round(planar_s / gpd_s, 3) if gpd_s else None,
        "max_share_difference": diff,
        "covered_population_postgis": ours["summary"]["covered_population"],
        "covered_population_geopandas": round(theirs["covered_population"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--era", default=None, choices=["2019", "2025"], help="default: both")
    parser.add_argument("--kind", default="post_office")
    parser.add_argument("--radius", type=float, default=2000.0)
    parser.add_argument("--synthetic", type=int, default=1000, help="extra run with N synthetic points (0: none)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for era in [args.era] if args.era else ["2019", "2025"]:
        for synthetic in sorted({0, args.synthetic}):
            result = coverage_benchmark(
                era=era, kind=args.kind, radius_m=args.radius, synthetic=synthetic, repeats=args.repeats
            )
            runs.append(result)
            print(
                f"era {era} kind {args.kind} R={args.radius:g} m, +{synthetic} synthetic points, "
                f"{result['communes']} communes: PostGIS {result['postgis_s']:.3f} s "
                f"({result['postgis_planar_area_s']:.3f} s without geodesic areas), "
                f"geopandas {result['geopandas_s']:.3f} s (read {result['geopandas_read_s']:.3f} s), "
                f"ratio {result['ratio_postgis_over_geopandas']} "
                f"({result['ratio_planar_postgis_over_geopandas']}), "
                f"max share diff {result['max_share_difference']:.2e}",
                flush=True,
            )
    print(json.dumps({"benchmark": "analytics_coverage", "runs": runs}))


if __name__ == "__main__":
    main()
