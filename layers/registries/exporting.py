"""Registry export: a layer, or a filtered selection of it, to GeoPackage,
GeoJSON or CSV.

Features stream from a server-side cursor in batches into one Arrow stream
that GDAL (pyogrio.write_arrow) writes; no whole layer is held in Python.
Properties are typed by the layer's schema (dates as dates, integers as
integers), so a file imported, exported and imported again is unchanged.
CSV carries the geometry as WKT, plus lon/lat columns for point layers; GDAL
writes it, then one streaming pass copies it row by row into the file
served, UTF-8 with a BOM and every cell through spreadsheet_cell (a text
such as `=HYPERLINK(...)` comes out as `'=HYPERLINK(...)`, see
gisportal/spreadsheets.py), so a spreadsheet never runs what a registry holds."""

from __future__ import annotations

import csv
import datetime as dt
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyogrio
import shapely
from django.contrib.gis.db.models.functions import AsWKB
from django.db.models import CharField, Func, QuerySet

from gisportal.spreadsheets import CSV_CONTENT_TYPE, SafeCsvWriter

from ..models import FieldType, Layer

BATCH_SIZE = 10_000
# A WKT cell of a large polygon is far beyond the csv module's default 128 KB.
CSV_FIELD_MAX_CHARS = 2**31 - 1


@dataclass(frozen=True)
class ExportFormat:
    driver: str
    extension: str
    content_type: str


EXPORT_FORMATS = {
    "gpkg": ExportFormat("GPKG", ".gpkg", "application/geopackage+sqlite3"),
    "geojson": ExportFormat("GeoJSON", ".geojson", "application/geo+json"),
    "csv": ExportFormat("CSV", ".csv", CSV_CONTENT_TYPE),
}
ARROW_TYPES = {
    FieldType.STRING: pa.string(),
    FieldType.INTEGER: pa.int64(),
    FieldType.NUMBER: pa.float64(),
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.DATE: pa.date32(),
    FieldType.DATETIME: pa.timestamp("ms", tz="UTC"),
}
FAMILIES = [
    ({"POINT", "MULTIPOINT"}, "MultiPoint", shapely.MultiPoint, "POINT"),
    ({"LINESTRING", "MULTILINESTRING"}, "MultiLineString", shapely.MultiLineString, "LINESTRING"),
    ({"POLYGON", "MULTIPOLYGON"}, "MultiPolygon", shapely.MultiPolygon, "POLYGON"),
]
NAMES = {
    "POINT": "Point",
    "LINESTRING": "LineString",
    "POLYGON": "Polygon",
    "MULTIPOINT": "MultiPoint",
    "MULTILINESTRING": "MultiLineString",
    "MULTIPOLYGON": "MultiPolygon",
}


class _GeometryType(Func):
    function = "GeometryType"
    output_field = CharField()


def layer_export(*, layer: Layer, path: Path, format: str, features_queryset: QuerySet) -> int:
    """Write the features of `features_queryset` (already scoped to `layer`
    and to what the caller may see) to `path`; returns the feature count."""
    spec = EXPORT_FORMATS[format]
    fields = [f for f in layer.schema if f.get("name")]
    declared, promote = _geometry_type(layer=layer, features=features_queryset)
    with_lon_lat = format == "csv" and layer.geometry_type == "Point"
    taken = {f["name"].lower() for f in fields}
    lon_lat = [n for n in ("lon", "lat") if n not in taken] if with_lon_lat else []

    arrow_fields = [pa.field(f["name"], ARROW_TYPES.get(f["type"], pa.string())) for f in fields]
    arrow_fields += [pa.field(n, pa.float64()) for n in lon_lat]
    arrow_fields.append(pa.field("geometry", pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"}))
    schema = pa.schema(arrow_fields)
    written = [0]

    def batches() -> Iterator[pa.RecordBatch]:
        rows = (
            features_queryset.annotate(wkb=AsWKB("geom"))
            .values_list("wkb", "properties")
            .iterator(chunk_size=BATCH_SIZE)
        )
        chunk: list[tuple] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == BATCH_SIZE:
                yield _batch(chunk, schema=schema, fields=fields, lon_lat=lon_lat, promote=promote)
                written[0] += len(chunk)
                chunk = []
        if chunk or not written[0]:
            yield _batch(chunk, schema=schema, fields=fields, lon_lat=lon_lat, promote=promote)
            written[0] += len(chunk)

    options: dict = {}
    if format == "gpkg":
        # GDAL 3.6 (Debian 12) warns about GeoPackage 1.4, pyogrio's default.
        options["dataset_options"] = {"VERSION": "1.3"}
    if format == "csv":
        options["layer_options"] = {"GEOMETRY": "AS_WKT"}
    if format == "geojson":
        options["layer_options"] = {"RFC7946": "NO", "WRITE_NAME": "NO"}
    reader = pa.RecordBatchReader.from_batches(schema, batches())
    path.unlink(missing_ok=True)
    # GDAL's CSV driver writes a file (not a folder) only for a name in .csv.
    written_by_gdal = path.with_name(f".{path.stem}-{secrets.token_hex(6)}.csv") if format == "csv" else path
    pyogrio.write_arrow(
        reader,
        str(written_by_gdal),
        layer=layer.slug,
        driver=spec.driver,
        geometry_name="geometry",
        geometry_type=declared,
        crs="EPSG:4326",
        **options,
    )
    if format == "csv":
        try:
            _copy_for_spreadsheets(source=written_by_gdal, target=path)
        finally:
            written_by_gdal.unlink(missing_ok=True)
    return written[0]


def _copy_for_spreadsheets(*, source: Path, target: Path) -> None:
    """GDAL's CSV, row by row, as UTF-8 with a BOM and neutralised cells;
    memory holds one row at a time."""
    if csv.field_size_limit() < CSV_FIELD_MAX_CHARS:
        csv.field_size_limit(CSV_FIELD_MAX_CHARS)
    with source.open(encoding="utf-8", newline="") as rows, target.open("w", encoding="utf-8-sig", newline="") as out:
        SafeCsvWriter(out).writerows(csv.reader(rows))


def _geometry_type(*, layer: Layer, features: QuerySet) -> tuple[str, tuple | None]:
    """The type to declare, and (single type, Multi class) when single parts
    must be promoted so a mixed Polygon/MultiPolygon layer is one type."""
    present = {
        kind.upper()
        for kind in features.order_by().annotate(kind=_GeometryType("geom")).values_list("kind", flat=True).distinct()
    }
    if not present:
        return str(layer.geometry_type), None
    if len(present) == 1:
        kind = next(iter(present))
        return NAMES.get(kind, "Unknown"), None
    for family, multi_name, multi, single in FAMILIES:
        if present <= family:
            return multi_name, (single, multi)
    return "Unknown", None


def _batch(chunk: list[tuple], *, schema: pa.Schema, fields: list[dict], lon_lat: list[str], promote) -> pa.RecordBatch:
    wkb = [bytes(w) for w, _ in chunk]
    properties = [p if isinstance(p, dict) else json.loads(p or "{}") for _, p in chunk]
    geoms = None
    if promote is not None or lon_lat:
        geoms = shapely.from_wkb(wkb)
    if promote is not None:
        single, multi = promote
        singles = shapely.get_type_id(geoms) == {"POINT": 0, "LINESTRING": 1, "POLYGON": 3}[single]
        for i in singles.nonzero()[0]:
            geoms[i] = multi([geoms[i]])
        wkb = shapely.to_wkb(geoms).tolist()
    arrays = [
        pa.array(
            [_typed(f["type"], p.get(f["name"])) for p in properties], type=ARROW_TYPES.get(f["type"], pa.string())
        )
        for f in fields
    ]
    if lon_lat:
        arrays.append(pa.array(shapely.get_x(geoms), type=pa.float64()))
        arrays.append(pa.array(shapely.get_y(geoms), type=pa.float64()))
    arrays.append(pa.array(wkb, type=pa.binary()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _typed(kind: str, value):
    """A stored JSON value as the schema types it; None when it is not one
    (older rows written before a schema change must not stop the export)."""
    if value is None:
        return None
    try:
        if kind == FieldType.STRING:
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if kind == FieldType.INTEGER:
            return int(value) if not isinstance(value, bool) and float(value).is_integer() else None
        if kind == FieldType.NUMBER:
            return None if isinstance(value, bool) else float(value)
        if kind == FieldType.BOOLEAN:
            return value if isinstance(value, bool) else None
        if kind == FieldType.DATE:
            return dt.date.fromisoformat(str(value)[:10])
        if kind == FieldType.DATETIME:
            moment = dt.datetime.fromisoformat(str(value))
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    return None
