"""Registry import against the GDAL baseline.

A GeoPackage of N points (default 1,000,000; --quick 100,000) with four typed
attributes is loaded into a scratch database of this script,
`<main db>_bench_import` (or --db-name), by:
  - ours: `manage.py import_layer <slug> <file> --mode replace` (pyogrio Arrow
    batches, validation, COPY to staging, the layer's own partition of the
    feature table built and indexed, then swapped in; layer_touch);
  - baseline: `ogr2ogr -f PostgreSQL` (Debian's GDAL, COPY, a new table with a
    GiST index, no validation), the same command as bench/registries.py's;
  - with --baseline-checkout DIR, also "before": the same import command of
    another checkout (e.g. a worktree of main), in a database of its own
    migrated by that checkout's migrations, so before and after are measured
    in the same run.
The file is read once before the first timing (every side reads it warm).
Each round runs every side once, each as its own process (time and peak RSS by
GNU time), each from an empty target; round 1 runs ogr2ogr first (as
bench/registries.py does), later rounds rotate the order. Our command runs
with --settings (default gisportal.settings.test: DEBUG off). Prints a table
and, last, a JSON line. Not measured: a replace over a layer that already
holds features (the swap then also drops the old partition). With --phases,
our command runs with -v 2 and each round prints the seconds of its steps as
the importer logs them (read and check run in a thread of their own, beside
the COPY: their sum exceeds the wall time).

    .venv/bin/python bench/registries_import.py [--quick] [--n N] [--rounds R] [--phases] [--baseline-checkout DIR]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from common import (  # noqa: E402
    ROOT,
    baselines_left_out,
    conninfo_from_url,
    db_params,
    ensure_database,
    file_warm,
    ogr2ogr_import,
    run_measured,
    say,
    scratch_database,
    settle,
    url_with_db,
)

MARKER = "scratch database of bench/registries_import.py"
SETTINGS = "gisportal.settings.test"
LAYER_SLUG = "bench-import-points"
GPKG_LAYER = "points"
OGR_TABLE = "bench_imp_ogr2ogr"
DATA_DIR = ROOT / "var" / "bench"
LEFT_OUT = {
    # What ogr2ogr does too: read the file, COPY (hex EWKB), a primary key (its `fid` serial, kept up during the
    # COPY) and a GiST index on geom built after the COPY.
    "ogr2ogr": "every check of a row (geometry missing, empty, of the wrong type, outside lon/lat, over the vertex "
    "limit, invalid; each attribute against the layer's schema type; far from the province), repair and the error "
    "report; the properties as one jsonb (it writes typed columns) and their indexes (a GIN, and a btree for the "
    "name, whose values all differ); ANALYZE; the job row and its progress per batch; the build apart and the "
    "all-or-nothing swap (DETACH, DROP, ATTACH with the foreign key's check); the layer's count, extent and version",
    "the bench": "a replace over a layer that already holds features (the swap then also drops its old partition), "
    "append mode, other formats (shapefile, GeoJSON, CSV), a Celery worker (the command imports in its process)",
}


def ensure_gpkg(n: int) -> Path:
    """Points spread over Bắc Ninh with typed attributes, written in batches."""
    path = DATA_DIR / f"imp_points_{n}.gpkg"
    if path.exists():
        return path
    import numpy as np
    import pyarrow as pa
    import pyogrio
    import shapely

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    step = 200_000
    for start in range(0, n, step):
        count = min(step, n - start)
        ids = np.arange(start, start + count)
        table = pa.table(
            {
                "name": pa.array([f"Điểm {i}" for i in ids]),
                "beds": pa.array(rng.integers(0, 500, count), pa.int64()),
                "rating": pa.array(rng.uniform(0, 5, count).round(3)),
                "opened": pa.array(
                    (np.datetime64("1990-01-01") + rng.integers(0, 12000, count)).astype("datetime64[D]")
                ),
                "geometry": pa.array(
                    shapely.to_wkb(shapely.points(rng.uniform(105.9, 106.3, count), rng.uniform(20.98, 21.3, count))),
                    pa.binary(),
                ),
            }
        )
        pyogrio.write_arrow(
            table,
            str(path),
            layer=GPKG_LAYER,
            driver="GPKG",
            geometry_name="geometry",
            geometry_type="Point",
            crs="EPSG:4326",
            append=start > 0,
            dataset_options={"VERSION": "1.3"},
        )
    return path


class Checkout:
    """One side that imports with a checkout's `manage.py import_layer`, in a
    database migrated by that checkout."""

    def __init__(self, *, name: str, root: Path, main_url: str, db_name: str, settings: str):
        self.name, self.root, self.db_name, self.settings = name, root, db_name, settings
        self.url = url_with_db(main_url, db_name)
        self.created = ensure_database(conninfo_from_url(main_url), db_name, marker=MARKER)

    def manage(self, *args: str) -> list[str]:
        return [sys.executable, str(self.root / "manage.py"), *args]

    def env(self) -> dict:
        return {**os.environ, "DATABASE_URL": self.url, "DJANGO_SETTINGS_MODULE": self.settings}

    def prepare(self) -> None:
        subprocess.run(self.manage("migrate", "--noinput", "-v", "0"), cwd=self.root, env=self.env(), check=True)
        code = (
            "from django.conf import settings\n"
            "assert not settings.DEBUG, 'DEBUG must be off: every query would be kept'\n"
            "from gisportal.accounts.models import Agency\n"
            "from layers.registries.services import layer_create_or_update\n"
            "agency, _ = Agency.objects.get_or_create(code='bench', defaults={'name': 'Bench'})\n"
            f"layer_create_or_update(slug='{LAYER_SLUG}', title='Bench points', owner=agency, geometry_type='Point',"
            " visibility='public', schema=[{'name': 'name', 'type': 'string'}, {'name': 'beds', 'type': 'integer'},"
            " {'name': 'rating', 'type': 'number'}, {'name': 'opened', 'type': 'date'}])\n"
        )
        subprocess.run(self.manage("shell", "-c", code), cwd=self.root, env=self.env(), check=True)

    def empty(self) -> None:
        """The target starts empty, like ogr2ogr's -overwrite (the database
        holds only the bench layer)."""
        with psycopg.connect(conninfo_from_url(self.url), autocommit=True) as conn:
            conn.execute("TRUNCATE layers_feature")
            conn.execute("VACUUM ANALYZE layers_feature")

    def run(self, gpkg: Path, *, phases: bool = False) -> tuple[float, int, str]:
        """Wall seconds, peak RSS and, with `phases`, the import's own line
        of seconds per step ("" when the checkout logs none)."""
        self.empty()
        m = run_measured(
            self.manage("import_layer", LAYER_SLUG, str(gpkg), "--mode", "replace", *(["-v", "2"] if phases else [])),
            env=self.env(),
            cwd=self.root,
            log_prefix=f"bench-imp-{self.name}-",
        )
        tail = m.log_tail()
        Path(m.log_path).unlink(missing_ok=True)
        if m.returncode != 0:
            sys.exit(f"{self.name}: import_layer failed:\n{tail}")
        steps = next((line.split("seconds: ", 1)[1] for line in tail.splitlines() if "seconds: " in line), "")
        return m.wall_s, m.max_rss_bytes, steps

    def properties_indexes(self) -> list[str]:
        """How the layer's partition indexes the properties (a GIN, less any
        string field whose values all differ, which gets a btree)."""
        with psycopg.connect(conninfo_from_url(self.url), autocommit=True) as conn:
            rows = conn.execute(
                """SELECT pg_get_indexdef(x.indexrelid) FROM layers_layer l
                   JOIN pg_inherits i ON i.inhrelid = format('layers_feature_%%s', l.id)::regclass
                   JOIN pg_index x ON x.indrelid = i.inhrelid
                   WHERE l.slug = %s AND pg_get_indexdef(x.indexrelid) LIKE '%%properties%%' ORDER BY 1""",
                [LAYER_SLUG],
            ).fetchall()
        return [definition.partition(" USING ")[2] for (definition,) in rows]

    def count(self) -> int:
        with psycopg.connect(conninfo_from_url(self.url), autocommit=True) as conn:
            return conn.execute(
                "SELECT count(*) FROM layers_feature f JOIN layers_layer l ON l.id = f.layer_id WHERE l.slug = %s",
                [LAYER_SLUG],
            ).fetchone()[0]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 points")
    parser.add_argument("--n", type=int, help="number of points (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each timing every side once (default 3)")
    parser.add_argument("--db-name", help="scratch database (default <main db>_bench_import)")
    parser.add_argument("--settings", default=SETTINGS, help="DJANGO_SETTINGS_MODULE of our command (DEBUG off)")
    parser.add_argument("--baseline-checkout", type=Path, help='also time this checkout\'s import ("before")')
    parser.add_argument(
        "--phases",
        action="store_true",
        help="print where each of our imports spent its seconds (read, check: the reading thread; wait, copy: "
        "the COPY's thread; index, swap; total: inside the command, after Python's start), also in the JSON",
    )
    args = parser.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)

    main_url, db_name, bench_url = scratch_database(args.db_name, default_suffix="bench_import")
    sides = {"ours": Checkout(name="ours", root=ROOT, main_url=main_url, db_name=db_name, settings=args.settings)}
    if args.baseline_checkout:
        root = args.baseline_checkout.resolve()
        sides["before"] = Checkout(
            name="before", root=root, main_url=main_url, db_name=f"{db_name}_before", settings=args.settings
        )
    for side in sides.values():
        side.prepare()
    gpkg = ensure_gpkg(n)
    say(f"{n:,} points, {gpkg.stat().st_size / 2**20:.0f} MiB GeoPackage; database {db_name}")
    file_warm(gpkg)

    params = db_params(bench_url, db_name)
    order = ["ogr2ogr", *sides]
    times: dict[str, list[float]] = {name: [] for name in order}
    peaks: dict[str, list[int]] = {name: [] for name in order}
    steps: list[str] = []
    for round_no in range(args.rounds):
        rotated = order[round_no % len(order) :] + order[: round_no % len(order)]
        for name in rotated:
            # Each import starts with nothing of the last one left to vacuum or write out: otherwise
            # the second of a round paid for autovacuum and the first's 1.5 GB of dirty pages.
            skipped = settle(conninfo_from_url(bench_url), ["layers_feature", OGR_TABLE])
            if skipped is not None and round_no == 0:
                say(f"  {skipped}")
            if name == "ogr2ogr":
                m = ogr2ogr_import(gpkg, params, layer=GPKG_LAYER, table=OGR_TABLE, log_prefix="bench-imp-ogr-")
                wall, peak = m.wall_s, m.max_rss_bytes
            else:
                wall, peak, step_line = sides[name].run(gpkg, phases=args.phases and name == "ours")
                if step_line:
                    steps.append(step_line)
            times[name].append(wall)
            peaks[name].append(peak)
            say(f"  round {round_no + 1} {name:8} {wall:7.1f} s  peak RSS {peak / 2**20:6.0f} MiB  load {_load()}")
            if args.phases and name == "ours":
                say(f"           steps (s): {steps[-1] if steps else 'not logged'}")

    with psycopg.connect(conninfo_from_url(bench_url), autocommit=True) as conn:
        counts = {"ogr2ogr": conn.execute(f"SELECT count(*) FROM {OGR_TABLE}").fetchone()[0]}
    counts.update({name: side.count() for name, side in sides.items()})
    if any(c != n for c in counts.values()):
        sys.exit(f"counts differ from the file's {n}: {counts}")
    indexes = {name: side.properties_indexes() for name, side in sides.items()}
    for name, definitions in indexes.items():
        say(f"  {name}: the properties indexed by {'; '.join(definitions)}")

    # Ratios per round (each against the ogr2ogr run of the same round), then their median and range.
    ratios = {name: [t / o for t, o in zip(times[name], times["ogr2ogr"], strict=True)] for name in sides}
    say("")
    for name in order:
        ts = times[name]
        say(
            f"  {name:8} median {statistics.median(ts):6.1f} s (min {min(ts):.1f}, max {max(ts):.1f})  "
            f"{n / statistics.median(ts):9,.0f} rows/s  peak RSS max {max(peaks[name]) / 2**20:.0f} MiB"
        )
    for name, rs in ratios.items():
        say(f"  ratio {name}/ogr2ogr median {statistics.median(rs):.2f} (min {min(rs):.2f}, max {max(rs):.2f})")
    say(f"  aims: ours/ogr2ogr <= 1.5, our peak RSS < 500 MiB; load average {os.getloadavg()}")
    summary = {
        "benchmark": "registries_import",
        "points": n,
        "rounds": args.rounds,
        "ours_s": round(statistics.median(times["ours"]), 2),
        "ogr2ogr_s": round(statistics.median(times["ogr2ogr"]), 2),
        "ratio": round(statistics.median(ratios["ours"]), 3),
        "ratio_min": round(min(ratios["ours"]), 3),
        "ratio_max": round(max(ratios["ours"]), 3),
        "ours_peak_rss_mib": round(max(peaks["ours"]) / 2**20),
        "ogr2ogr_peak_rss_mib": round(max(peaks["ogr2ogr"]) / 2**20),
        "times_s": {name: [round(t, 2) for t in ts] for name, ts in times.items()},
        "ours_properties_indexes": indexes["ours"],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **baselines_left_out(LEFT_OUT),
    }
    if args.phases:
        summary["ours_phases"] = steps
    if "before" in sides:
        summary["before_s"] = round(statistics.median(times["before"]), 2)
        summary["ratio_before"] = round(statistics.median(ratios["before"]), 3)
        summary["before_peak_rss_mib"] = round(max(peaks["before"]) / 2**20)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
