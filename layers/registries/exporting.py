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
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import AsGeoJSON, AsWKB
from django.db.models import CharField, F, Func, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from gisportal.htmlmap import MAX_FEATURES, SIMPLIFY_TOLERANCE_DEG, Legend, TooManyFeatures, both, html_map
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


# --- the HTML map (folium) ---------------------------------------------------------------------

HTML_FORMAT = ExportFormat("HTML", ".html", "text/html; charset=utf-8")
# Fields shown on hover: the first few of the schema (a long schema would cover the map).
HTML_TOOLTIP_FIELDS = 8


def _communes_outline() -> list[dict]:
    """The current communes' stored simplified outlines (~50 m): the map's
    background instead of base tiles, which an offline file cannot fetch."""
    from ..models import AdministrativeUnit, Era, UnitLevel

    rows = (
        AdministrativeUnit.objects.filter(era=Era.POST_2025, level=UnitLevel.COMMUNE, valid_to__isnull=True)
        .annotate(outline=AsGeoJSON(Coalesce("geom_simplified", "geom"), precision=5))
        .values_list("outline", flat=True)
    )
    return [{"type": "Feature", "geometry": json.loads(outline)} for outline in rows if outline]


def layer_html_map(*, layer: Layer, features_queryset: QuerySet, period: str) -> bytes:
    """The features of `features_queryset` as a standalone HTML map (see
    gisportal/htmlmap.py): geometries simplified with ST_SimplifyPreserveTopology
    at SIMPLIFY_TOLERANCE_DEG, at most MAX_FEATURES (TooManyFeatures naming
    `bbox` beyond)."""
    count = features_queryset.count()
    if count > MAX_FEATURES:
        raise TooManyFeatures(parameter="bbox", count=count, limit=MAX_FEATURES)
    fields = [f["name"] for f in layer.schema if f.get("name")][:HTML_TOOLTIP_FIELDS]
    simplified = Func(
        F("geom"),
        Value(SIMPLIFY_TOLERANCE_DEG),
        function="ST_SimplifyPreserveTopology",
        output_field=GeometryField(srid=4326),
    )
    rows = (
        features_queryset.order_by("pk")
        .annotate(outline=AsGeoJSON(simplified, precision=6))
        .values_list("pk", "outline", "properties")
    )
    features = [
        {"type": "Feature", "geometry": json.loads(outline), "properties": {"id": pk, **(props or {})}}
        for pk, outline, props in rows.iterator(chunk_size=BATCH_SIZE)
    ]
    licence = " · ".join(part for part in (layer.attribution, layer.license) if part)
    return html_map(
        title=both(gettext_noop("Map of the layer %(title)s"), title=layer.title),
        features=features,
        legend=Legend(title=layer.title, label=_("%(count)s features") % {"count": f"{count:,}"}),
        value=None,
        tooltip=[("id", "id"), *[(name, name) for name in fields]],
        period=period,
        attribution=licence or layer.owner.name,
        boundaries=None if layer.geometry_type.endswith("Polygon") else _communes_outline(),
    )
