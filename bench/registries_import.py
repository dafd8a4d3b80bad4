"""Registry import against the GDAL baseline.

A GeoPackage of N points (default 1,000,000; --quick 100,000) with four typed
attributes is loaded twice into the scratch database gisportal_imp_bench:
  - ours: `manage.py import_layer <slug> <file> --mode replace` (pyogrio Arrow
    batches, validation, COPY to staging, one INSERT ... SELECT into the shared
    feature table with its GiST and GIN indexes, layer_touch);
  - baseline: `ogr2ogr -f PostgreSQL` (Debian's GDAL, COPY, a new table with a
    GiST index, no validation).
Each runs as its own process, timed, with its own peak RSS (os.wait4). Both
start from an empty target. Prints a table and, last, a JSON line.

    .venv/bin/python bench/registries_import.py [--quick] [--n N]
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from common import (  # noqa: E402
    ROOT,
    conninfo_from_url,
    db_params,
    ensure_database,
    main_database_url,
    migrate,
    run_measured,
    say,
    url_with_db,
)

DB_NAME = "gisportal_imp_bench"
MARKER = "scratch database of bench/registries_import.py"
SETTINGS = "gisportal.settings.dev"
LAYER_SLUG = "bench-import-points"
OGR_TABLE = "bench_imp_ogr2ogr"
DATA_DIR = ROOT / "var" / "bench"


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
            layer="points",
            driver="GPKG",
            geometry_name="geometry",
            geometry_type="Point",
            crs="EPSG:4326",
            append=start > 0,
            dataset_options={"VERSION": "1.3"},
        )
    return path


def ensure_layer(bench_url: str) -> None:
    code = (
        "from gisportal.accounts.models import Agency\n"
        "from layers.registries.services import layer_create_or_update\n"
        "agency, _ = Agency.objects.get_or_create(code='bench', defaults={'name': 'Bench'})\n"
        f"layer_create_or_update(slug='{LAYER_SLUG}', title='Bench points', owner=agency, geometry_type='Point',"
        " visibility='public', schema=[{'name': 'name', 'type': 'string'}, {'name': 'beds', 'type': 'integer'},"
        " {'name': 'rating', 'type': 'number'}, {'name': 'opened', 'type': 'date'}])\n"
    )
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_SETTINGS_MODULE": SETTINGS}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", code], cwd=ROOT, env=env, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 points")
    parser.add_argument("--n", type=int, help="number of points (default 1,000,000)")
    args = parser.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)

    main_url = main_database_url()
    created = ensure_database(conninfo_from_url(main_url), DB_NAME, marker=MARKER)
    bench_url = url_with_db(main_url, DB_NAME)
    migrate(bench_url, SETTINGS)
    ensure_layer(bench_url)
    gpkg = ensure_gpkg(n)
    say(f"{n:,} points, {gpkg.stat().st_size / 2**20:.0f} MiB GeoPackage; database {DB_NAME} (new: {created})")

    conninfo = conninfo_from_url(bench_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE layers_feature")  # our target starts empty, like ogr2ogr's -overwrite
        conn.execute("VACUUM ANALYZE layers_feature")

    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_SETTINGS_MODULE": SETTINGS}
    ours = run_measured(
        [sys.executable, str(ROOT / "manage.py"), "import_layer", LAYER_SLUG, str(gpkg), "--mode", "replace"],
        env=env,
        log_prefix="bench-imp-ours-",
    )
    if ours.returncode != 0:
        sys.exit(f"import_layer failed:\n{ours.log_tail()}")

    params = db_params(bench_url, DB_NAME)
    pg = f"PG:host={params['host']} port={params['port']} dbname={params['dbname']} user={params['user']}"
    ogr = run_measured(
        ["ogr2ogr", "-f", "PostgreSQL", pg, str(gpkg), "-nln", OGR_TABLE, "-overwrite", "-lco", "GEOMETRY_NAME=geom"],
        env={**os.environ, "PGPASSWORD": params["password"]},
        log_prefix="bench-imp-ogr-",
    )
    if ogr.returncode != 0:
        sys.exit(f"ogr2ogr failed:\n{ogr.log_tail()}")

    with psycopg.connect(conninfo, autocommit=True) as conn:
        ours_count = conn.execute(
            "SELECT count(*) FROM layers_feature f JOIN layers_layer l ON l.id = f.layer_id WHERE l.slug = %s",
            [LAYER_SLUG],
        ).fetchone()[0]
        ogr_count = conn.execute(f"SELECT count(*) FROM {OGR_TABLE}").fetchone()[0]
    for m in (ours, ogr):
        Path(m.log_path).unlink(missing_ok=True)
    if ours_count != n or ogr_count != n:
        sys.exit(f"counts differ: ours {ours_count}, ogr2ogr {ogr_count}, expected {n}")

    ratio = ours.wall_s / ogr.wall_s
    for name, m in (("import_layer", ours), ("ogr2ogr", ogr)):
        rss = m.max_rss_bytes / 2**20
        say(f"  {name:12} {m.wall_s:7.1f} s  {n / m.wall_s:9,.0f} rows/s  peak RSS {rss:6.0f} MiB")
    say(f"  time ratio ours/ogr2ogr {ratio:.2f} (aim <= 1.5); our peak memory aim < 1024 MiB")
    print(
        json.dumps(
            {
                "benchmark": "registries_import",
                "points": n,
                "ours_s": round(ours.wall_s, 2),
                "ogr2ogr_s": round(ogr.wall_s, 2),
                "ratio": round(ratio, 3),
                "ours_peak_rss_mib": round(ours.max_rss_bytes / 2**20),
                "ogr2ogr_peak_rss_mib": round(ogr.max_rss_bytes / 2**20),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
