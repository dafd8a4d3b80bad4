"""Small source files for registry import/export tests, written with pyogrio
(GDAL) straight from typed Arrow tables, plus helpers to make test layers."""

from __future__ import annotations

import csv
import datetime as dt
import random
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyogrio
import pyproj
import shapely

from gisportal.accounts.models import Agency
from layers.models import GeometryType, Layer, Visibility
from layers.registries.services import layer_create_or_update

SCHEMA = [
    {"name": "name", "type": "string"},
    {"name": "beds", "type": "integer"},
    {"name": "rating", "type": "number"},
    {"name": "active", "type": "boolean"},
    {"name": "opened", "type": "date"},
    {"name": "checked", "type": "datetime"},
]
ARROW = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("ms", tz="UTC"),
}
# Inside Bắc Ninh (2025 province), away from its edge.
LON_RANGE = (105.95, 106.25)
LAT_RANGE = (21.02, 21.25)


@dataclass
class Sample:
    """Features as the tests know them: geometry in lon/lat and properties."""

    geoms: list
    properties: list[dict]


def make_layer(
    slug: str,
    *,
    geometry_type: str = GeometryType.POINT,
    schema: list[dict] | None = None,
    owner: str = "so-y-te",
    visibility: str = Visibility.INTERNAL,
) -> Layer:
    return layer_create_or_update(
        slug=slug,
        title=f"Test {slug}",
        owner=Agency.objects.get(code=owner),
        geometry_type=geometry_type,
        schema=SCHEMA if schema is None else schema,
        visibility=visibility,
    )


def sample_points(n: int = 50, *, seed: int = 1) -> Sample:
    rng = random.Random(seed)
    geoms, props = [], []
    for i in range(n):
        geoms.append(shapely.Point(round(rng.uniform(*LON_RANGE), 7), round(rng.uniform(*LAT_RANGE), 7)))
        props.append(_properties(i, rng))
    return Sample(geoms, props)


def sample_polygons(n: int = 50, *, seed: int = 2) -> Sample:
    rng = random.Random(seed)
    geoms, props = [], []
    for i in range(n):
        x, y = rng.uniform(*LON_RANGE), rng.uniform(*LAT_RANGE)
        size = rng.uniform(0.0005, 0.003)
        ring = [(x, y), (x + size, y), (x + size, y + size * 0.8), (x + size * 0.2, y + size), (x, y)]
        geoms.append(shapely.Polygon([(round(a, 7), round(b, 7)) for a, b in ring]))
        props.append(_properties(i, rng))
    return Sample(geoms, props)


def _properties(i: int, rng: random.Random) -> dict:
    return {
        "name": f"Trạm y tế số {i} – Bắc Ninh",
        "beds": rng.randint(0, 500) if i % 7 else None,
        "rating": round(rng.uniform(0, 5), 3),
        "active": bool(i % 3),
        "opened": dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 12000)),
        "checked": dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randint(0, 30_000_000)),
    }


def _table(sample: Sample, *, schema: list[dict] = SCHEMA, geoms=None) -> pa.Table:
    columns = {f["name"]: pa.array([p.get(f["name"]) for p in sample.properties], ARROW[f["type"]]) for f in schema}
    wkb = shapely.to_wkb(geoms if geoms is not None else sample.geoms).tolist()
    columns["geometry"] = pa.array(wkb, pa.binary())
    table = pa.table(columns)
    field = table.schema.field("geometry").with_metadata({"ARROW:extension:name": "geoarrow.wkb"})
    return table.cast(table.schema.set(table.schema.get_field_index("geometry"), field))


def _write(table: pa.Table, path: Path, driver: str, *, crs="EPSG:4326", geometry_type=None, **options) -> Path:
    pyogrio.write_arrow(
        table,
        str(path),
        layer=path.stem,
        driver=driver,
        geometry_name="geometry",
        geometry_type=geometry_type or "Unknown",
        crs=crs,
        **options,
    )
    return path


def write_gpkg(sample: Sample, path: Path, *, geometry_type: str | None = None) -> Path:
    kind = geometry_type or sample.geoms[0].geom_type
    return _write(_table(sample), path, "GPKG", geometry_type=kind, dataset_options={"VERSION": "1.3"})


def write_geojson(sample: Sample, path: Path) -> Path:
    return _write(_table(sample), path, "GeoJSON", geometry_type=sample.geoms[0].geom_type)


def write_kml(sample: Sample, path: Path) -> Path:
    return _write(_table(sample), path, "KML", geometry_type=sample.geoms[0].geom_type)


def write_shapefile_zip(sample: Sample, path: Path, *, epsg: int = 4326) -> Path:
    """A zipped shapefile with its .prj; coordinates converted to `epsg` with
    pyproj (not with the code under test)."""
    geoms = sample.geoms
    if epsg != 4326:
        to_crs = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
        geoms = shapely.transform(np.array(geoms), lambda xy: np.column_stack(to_crs.transform(xy[:, 0], xy[:, 1])))
    folder = path.parent / f"{path.stem}_shp"
    folder.mkdir(exist_ok=True)
    shp = folder / f"{path.stem}.shp"
    _write(_table(sample, geoms=geoms), shp, "ESRI Shapefile", crs=f"EPSG:{epsg}", geometry_type=geoms[0].geom_type)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(folder.iterdir()):
            archive.write(part, part.name)
    shutil.rmtree(folder)
    return path


def write_csv(sample: Sample, path: Path, *, lon: str = "Longitude", lat: str = "LAT", delimiter: str = ",") -> Path:
    """Points as lon/lat columns (names in mixed case on purpose)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        names = [f["name"] for f in SCHEMA]
        writer.writerow([*names, lon, lat])
        for geom, props in zip(sample.geoms, sample.properties, strict=True):
            row = []
            for name in names:
                value = props.get(name)
                row.append("" if value is None else value.isoformat() if hasattr(value, "isoformat") else value)
            writer.writerow([*row, repr(geom.x), repr(geom.y)])
    return path


def append_bad_csv_rows(path: Path, count: int) -> Path:
    """Rows that an import rejects (no coordinates, a number that is not one),
    appended to a CSV of write_csv: what fills an error report."""
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(f"Trạm hỏng {i},,,,,,không-phải-số,21.1\n" for i in range(count))
    return path


WRITERS = {
    "gpkg": (write_gpkg, ".gpkg"),
    "shapefile": (write_shapefile_zip, ".zip"),
    "geojson": (write_geojson, ".geojson"),
    "kml": (write_kml, ".kml"),
    "csv": (write_csv, ".csv"),
}


def read_features(path: Path, *, layer: str | None = None) -> tuple[list, list[dict]]:
    """Geometries and properties of a file as GDAL reads it (for comparisons)."""
    table = pyogrio.read_arrow(str(path), layer=layer)[1]
    rows = table.to_pylist()
    names = [n for n in table.schema.names if n not in ("wkb_geometry", "geometry", "geom")]
    geometry_name = next(n for n in table.schema.names if n in ("wkb_geometry", "geometry", "geom"))
    geoms = [shapely.from_wkb(r[geometry_name]) if r[geometry_name] else None for r in rows]
    return geoms, [{n: r[n] for n in names} for r in rows]


# --- comparing what came back with what went in ------------------------------------


def normal(kind: str, value):
    """A value as a Python object of the schema type, whatever the file format
    made of it (GDAL gives CSV and KML values as text)."""
    if value is None or value == "":
        return None
    if kind == "string":
        return str(value)
    if kind == "integer":
        return int(float(value)) if isinstance(value, str) else int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return value.strip().lower() in {"true", "1"} if isinstance(value, str) else bool(value)
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(value[:10].replace("/", "-"))
    if kind == "datetime":
        if isinstance(value, str):
            text = value.strip()
            if text[4:5] == "/":
                text = f"{text[:4]}-{text[5:7]}-{text[8:]}"
            value = dt.datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    raise AssertionError(kind)


def assert_same_features(sample: Sample, geoms: list, properties: list[dict], *, tolerance: float = 1e-7) -> None:
    """Same features as the sample, matched by name: every schema attribute
    equal, every geometry equal within `tolerance` degrees."""
    assert len(geoms) == len(sample.geoms)
    lowered = [{k.lower(): v for k, v in p.items()} for p in properties]
    by_name = {p["name"]: (g, p) for g, p in zip(geoms, lowered, strict=True)}
    assert len(by_name) == len(sample.geoms)
    for geom, expected in zip(sample.geoms, sample.properties, strict=True):
        got_geom, got = by_name[expected["name"]]
        for spec in SCHEMA:
            assert normal(spec["type"], got.get(spec["name"])) == normal(spec["type"], expected[spec["name"]]), (
                spec["name"],
                got,
                expected,
            )
        assert got_geom.geom_type.removeprefix("Multi") == geom.geom_type.removeprefix("Multi")
        assert shapely.hausdorff_distance(got_geom, geom) <= tolerance, (got_geom.wkt, geom.wkt)
