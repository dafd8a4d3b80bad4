"""Registry import: a stored file becomes validated EPSG:4326 features of a layer.

The file is checked before any parser sees it (size, format by content, a
zip's central directory), then read with pyogrio in Arrow batches so a large
file never sits in Python objects. Each batch is reprojected, repaired or
rejected row by row, typed against the layer's schema and COPYed (WKB and
the properties as JSON, its COPY text built in Arrow) into staging; a thread
of its own reads and checks the next batch while the current one is COPYed;
progress is committed per batch. In
replace mode the staging is a new table shaped like the layer's partition,
indexed once loaded (partitions.py); in append mode a session TEMP table.
Only the final swap (that partition attached in place of the old one, or in
append mode an INSERT ... SELECT; one FeatureChange, layer_touch) is one
transaction, so a failure anywhere leaves the layer as it was.

Decisions (also in the error report's wording):
- Geometry types: a Point layer takes Point (a one-part MultiPoint is
  demoted); LineString and Polygon layers take their single and Multi forms,
  stored as given (a repaired bow-tie becomes a MultiPolygon); Multi* layers
  promote single parts, so they hold one type.
- Repair: only polygons and lines, with GEOS make_valid; the result keeps
  the parts of the original dimension, and for polygons the two GEOS repair
  methods ("linework" and "structure") must agree within 1 % of the area:
  where they disagree (overlapping parts, rings crossing each other in more
  than one way) the intended shape is ambiguous and the row is rejected.
- Far outside the province (beyond its 2025 bounding box plus 20 km): kept,
  counted as flagged and listed in the error report.
- A file where no row, or fewer than half of the rows, can be imported is
  refused as a whole: it is the wrong file or the wrong layer.
- Properties: schema fields are matched to columns by name, ignoring case
  (and by the first 10 letters for shapefiles, whose names are cut); other
  columns (besides a CSV's lon/lat or WKT) are not imported, and are named in
  the job's message and in the error report (outcome `column_ignored`, row
  0), never dropped silently: a misspelt header shows; a missing column gives
  no value. Datetimes without a
  time zone are read in settings.TIME_ZONE and stored in UTC (ISO 8601).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import tempfile
import threading
import time
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from queue import Full, Queue

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import pyogrio.errors
import pyproj
import shapely
from django.conf import settings
from django.core.files import File
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from gisportal.api import message
from gisportal.filestore import is_local, local_copy, media_storage, names_under
from gisportal.outbox import outbox_claim, outbox_heartbeat, outbox_owns, outbox_publish_on_commit
from gisportal.spreadsheets import SafeCsvWriter
from gisportal.zipcheck import ZipLimits, ZipRefused, zip_check

from ..models import AdministrativeUnit, Era, FeatureChange, FieldType, GeometryType, ImportJob, Layer, UnitLevel
from .partitions import (
    PARENT,
    distinct_fields_choose,
    layer_partition_ensure,
    partition_swap,
    partition_table_create,
    partition_table_index,
)
from .services import layer_touch

logger = logging.getLogger(__name__)

# Rows a batch (read, checked and copied together): 25,000 peaked at 358 MiB
# for 1,000,000 points against 397 MiB with 50,000, and was no slower (10.9
# against 11.5 s, interleaved; bench/README.md, session 7).
BATCH_SIZE = 25_000
# Batches waiting, read and checked, for the COPY (besides the one being
# checked and the one being copied). 2 cost 23 MiB more at the peak (1M
# points: 460 MiB against 437) for no measurable gain.
AHEAD_BATCHES = 1
ZIP_MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
ZIP_MAX_RATIO = 100
ZIP_MAX_ENTRIES = 1000
PROVINCE_MARGIN_M = 20_000
MAX_VERTICES = 250_000
REPAIR_MAX_AREA_CHANGE = 0.01
MIN_ACCEPTED_SHARE = 0.5
HEAD_BYTES = 64 * 1024
# The swap gives up on a lock after partitions.SWAP_LOCK_TIMEOUT_S; so many tries.
SWAP_ATTEMPTS = 3
SWAP_RETRY_PAUSE_S = 2
LOCK_NOT_AVAILABLE = "55P03"

FORMAT_BY_EXTENSION = {
    ".gpkg": "gpkg",
    ".zip": "shapefile",
    ".geojson": "geojson",
    ".json": "geojson",
    ".kml": "kml",
    ".csv": "csv",
}
FORMAT_NAMES = {
    "gpkg": "GeoPackage",
    "shapefile": "Shapefile (zip)",
    "geojson": "GeoJSON",
    "kml": "KML",
    "csv": "CSV",
}
# The GDAL drivers each format may be opened with: content that GDAL would
# read with another driver (a VRT pointing at server files, say) is refused.
DRIVERS = {
    "gpkg": {"GPKG"},
    "shapefile": {"ESRI Shapefile"},
    "geojson": {"GeoJSON"},
    "kml": {"LIBKML", "KML"},
    "csv": {"CSV"},
}
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WKT_NAMES = ("wkt", "wkt_geom", "geometry", "geom", "the_geom")
TRUE_WORDS = {"true", "t", "yes", "y", "1", "có", "co"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "không", "khong"}

# shapely type ids
POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON = 0, 1, 3, 4, 5, 6
ACCEPTED_TYPES = {
    GeometryType.POINT: {POINT, MULTIPOINT},
    GeometryType.MULTIPOINT: {POINT, MULTIPOINT},
    GeometryType.LINESTRING: {LINESTRING, MULTILINESTRING},
    GeometryType.MULTILINESTRING: {LINESTRING, MULTILINESTRING},
    GeometryType.POLYGON: {POLYGON, MULTIPOLYGON},
    GeometryType.MULTIPOLYGON: {POLYGON, MULTIPOLYGON},
}
PROMOTE = {
    GeometryType.MULTIPOINT: (POINT, shapely.MultiPoint),
    GeometryType.MULTILINESTRING: (LINESTRING, shapely.MultiLineString),
    GeometryType.MULTIPOLYGON: (POLYGON, shapely.MultiPolygon),
}
Progress = Callable[[int, int | None], None]


class ImportRefused(Exception):
    """The file as a whole cannot be imported; the text is bilingual."""


def _refuse(vi: str, en: str) -> ImportRefused:
    return ImportRefused(message(vi, en))


# --- the file before any parser -------------------------------------------------


def _uploaded(job: ImportJob) -> bool:
    """Whether the job's file is an upload in the media store (imports/...);
    else the management command pointed it at a local file (absolute path)."""
    return not Path(job.stored_path).is_absolute()


@contextmanager
def import_source(job: ImportJob) -> Iterator[Path]:
    """A local path to read the job's file from: a command's own file where
    it is; an upload from the media store (a temporary copy when the store
    is an object store on another host, removed after the read)."""
    if not _uploaded(job):
        yield Path(job.stored_path)
        return
    storage = media_storage()
    if not storage.exists(job.stored_path):
        raise _refuse("Không tìm thấy tệp đã tải lên.", "The uploaded file is missing.")
    with local_copy(storage, job.stored_path) as path:
        yield path


def import_format_detect(*, path: Path, source_name: str) -> str:
    """The format the file's name promises, confirmed by its first bytes."""
    expected = FORMAT_BY_EXTENSION.get(PurePosixPath(source_name.lower()).suffix)
    if expected is None:
        known = ", ".join(sorted(FORMAT_BY_EXTENSION))
        raise _refuse(
            f"Định dạng tệp không được hỗ trợ; dùng một trong: {known}.",
            f"Unsupported file type; use one of: {known}.",
        )
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    found = _sniff(head)
    if found != expected:
        suffix = PurePosixPath(source_name.lower()).suffix
        what = FORMAT_NAMES[expected]
        raise _refuse(
            f"Tệp có đuôi {suffix} nhưng nội dung không phải {what} (hoặc tệp bị hỏng).",
            f"The file is named {suffix} but its content is not {what} (or the file is broken).",
        )
    return found


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "shapefile"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        return "geojson"
    if text[:1] == b"<":
        return "kml" if b"<kml" in text[:4096].lower() else None
    first_line = text.split(b"\n", 1)[0]
    try:
        header = first_line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    header = header.rstrip("\r")
    delimited = any(sep in header for sep in ",;\t")
    if header.replace("\t", " ").isprintable() and (delimited or _csv_geometry_names([header])):
        return "csv"
    return None


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > settings.UPLOAD_MAX_BYTES:
        limit_mb = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
        raise _refuse(
            f"Tệp quá lớn ({size // (1024 * 1024)} MB); giới hạn {limit_mb} MB.",
            f"File too large ({size // (1024 * 1024)} MB); the limit is {limit_mb} MB.",
        )
    if size == 0:
        raise _refuse("Tệp rỗng.", "The file is empty.")


def _check_zip(path: Path) -> str:
    """The one .shp inside a zip that is safe to open: no bomb, no paths out."""
    limits = ZipLimits(max_entries=ZIP_MAX_ENTRIES, max_total_bytes=ZIP_MAX_UNCOMPRESSED_BYTES, max_ratio=ZIP_MAX_RATIO)
    try:
        entries = zip_check(path, limits=limits)
    except ZipRefused as refused:
        raise ImportRefused(str(refused)) from refused
    names = [e.filename for e in entries if not e.is_dir() and not e.filename.startswith("__MACOSX/")]
    shapefiles = [n for n in names if n.lower().endswith(".shp")]
    if len(shapefiles) != 1:
        raise _refuse(
            f"Tệp zip phải chứa đúng một shapefile (.shp); tìm thấy {len(shapefiles)}.",
            f"The zip must hold exactly one shapefile (.shp); found {len(shapefiles)}.",
        )
    stem = shapefiles[0][:-4].lower()
    missing = [ext for ext in (".shx", ".dbf") if f"{stem}{ext}" not in {n.lower() for n in names}]
    if missing:
        listed = ", ".join(missing)
        raise _refuse(f"Shapefile thiếu tệp {listed}.", f"The shapefile lacks its {listed} file.")
    return shapefiles[0]


# --- reading ----------------------------------------------------------------------


@dataclass
class _Source:
    format: str
    gdal_path: str
    layers: list[str]
    open_options: dict[str, str] = field(default_factory=dict)


@dataclass
class _Batch:
    rows: np.ndarray  # 1-based feature numbers in the file
    geoms: np.ndarray  # shapely geometries in the source CRS (None: missing)
    columns: dict[str, pa.Array]
    crs: pyproj.CRS | None
    bad_geometry: dict[int, str] = field(default_factory=dict)  # index -> reason, set by CSV parsing
    # The file's own WKB (None for a CSV) and which rows' geometry no longer
    # matches it (made 2D here): the others are stored from these bytes.
    wkb: pa.Array | None = None
    changed: np.ndarray | None = None


def _open_source(*, path: Path, format: str) -> _Source:
    gdal_path = str(path)
    open_options: dict[str, str] = {}
    if format == "shapefile":
        gdal_path = f"/vsizip/{path}/{_check_zip(path)}"
    if format == "csv":
        # Geometry comes from our own parsing of the lon/lat or WKT columns
        # (clear per-row errors instead of GDAL's silent 0 for a bad number).
        open_options = {"EMPTY_STRING_AS_NULL": "YES", "AUTODETECT_TYPE": "NO"}
    try:
        info = pyogrio.read_info(gdal_path, **open_options)
        listed = pyogrio.list_layers(gdal_path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as error:
        raise _refuse(
            f"Không đọc được tệp {FORMAT_NAMES[format]} (tệp hỏng hoặc không đúng định dạng).",
            f"Cannot read the {FORMAT_NAMES[format]} file (broken or not in that format).",
        ) from error
    if info.get("driver") not in DRIVERS[format]:
        raise _refuse(f"Nội dung tệp không phải {FORMAT_NAMES[format]}.", f"The content is not {FORMAT_NAMES[format]}.")
    if format == "kml":
        layers = [str(name) for name, _ in listed]
    elif format == "csv":
        layers = [str(listed[0][0])]
    else:
        layers = [str(name) for name, kind in listed if kind is not None][:1]
    if not layers:
        raise _refuse("Tệp không có lớp dữ liệu không gian nào.", "The file has no spatial layer.")
    return _Source(format=format, gdal_path=gdal_path, layers=layers, open_options=open_options)


def _count_features(source: _Source) -> int | None:
    total = 0
    for name in source.layers:
        count = pyogrio.read_info(source.gdal_path, layer=name, **source.open_options).get("features", -1)
        if count is None or count < 0:
            return None
        total += count
    return total


def _read_batches(source: _Source) -> Iterator[_Batch]:
    row = 0
    for name in source.layers:
        with pyogrio.raw.open_arrow(
            source.gdal_path,
            layer=name,
            batch_size=BATCH_SIZE,
            use_pyarrow=True,
            read_geometry=source.format != "csv",
            **source.open_options,
        ) as (meta, reader):
            crs = _crs_of(meta.get("crs"))
            geometry_name = meta.get("geometry_name") or "wkb_geometry"
            for record_batch in reader:
                count = record_batch.num_rows
                if count == 0:
                    continue
                rows = np.arange(row + 1, row + count + 1)
                row += count
                columns = {n: record_batch.column(n) for n in record_batch.schema.names if n != geometry_name}
                if source.format == "csv":
                    geoms, bad = _csv_geometries(columns, count)
                    yield _Batch(rows=rows, geoms=geoms, columns=columns, crs=None, bad_geometry=bad)
                    continue
                wkb = record_batch.column(geometry_name)
                if isinstance(wkb, pa.ExtensionArray):
                    wkb = wkb.storage
                geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False), on_invalid="ignore")
                # Stored features are 2D; KML and survey data often carry Z (or M).
                with_z = shapely.has_z(geoms) | shapely.has_m(geoms)
                if with_z.any():
                    geoms[with_z] = shapely.force_2d(geoms[with_z])
                yield _Batch(rows=rows, geoms=geoms, columns=columns, crs=crs, wkb=wkb, changed=with_z)


def _crs_of(text: str | None) -> pyproj.CRS | None:
    if not text:
        return None
    crs = pyproj.CRS.from_user_input(text)
    if crs.to_epsg() is None:
        # An ESRI .prj of VN-2000 often lacks the datum shift; the EPSG
        # definition it matches carries it (a few hundred metres).
        code = crs.to_epsg(min_confidence=70)
        if code is not None:
            crs = pyproj.CRS.from_epsg(code)
    return crs


def _csv_geometry_names(names: list[str]) -> tuple[str, str] | str | None:
    """(lon column, lat column), or the WKT column, matched ignoring case."""
    header = [n.strip() for name in names for n in name.replace(";", ",").replace("\t", ",").split(",")]
    lowered = {n.lower(): n for n in header}
    lon = next((lowered[n] for n in LON_NAMES if n in lowered), None)
    lat = next((lowered[n] for n in LAT_NAMES if n in lowered), None)
    if lon and lat:
        return lon, lat
    return next((lowered[n] for n in WKT_NAMES if n in lowered), None)


def _csv_geometries(columns: dict[str, pa.Array], count: int) -> tuple[np.ndarray, dict[int, str]]:
    found = _csv_geometry_names(list(columns))
    if found is None:
        raise _refuse(
            "CSV cần cột kinh độ/vĩ độ (lon, lng, longitude, x / lat, latitude, y) hoặc cột WKT.",
            "The CSV needs longitude/latitude columns (lon, lng, longitude, x / lat, latitude, y) or a WKT column.",
        )
    bad: dict[int, str] = {}
    if isinstance(found, str):
        texts = columns[found].to_numpy(zero_copy_only=False)
        geoms = shapely.from_wkt(texts, on_invalid="ignore")
        for i in np.flatnonzero((geoms == None) & (texts != None)):  # noqa: E711 (element-wise)
            bad[int(i)] = message(f"Cột {found}: WKT không hợp lệ.", f"Column {found}: invalid WKT.")
        return geoms, bad
    lon_name, lat_name = found
    lon, lon_bad = _numbers(columns[lon_name])
    lat, lat_bad = _numbers(columns[lat_name])
    for name, values, flags, low, high in ((lon_name, lon, lon_bad, -180, 180), (lat_name, lat, lat_bad, -90, 90)):
        out_of_range = ~flags & np.isfinite(values) & ((values < low) | (values > high))
        for i in np.flatnonzero(flags | out_of_range):
            bad.setdefault(
                int(i),
                message(
                    f"Cột {name}: phải là số trong [{low}, {high}].",
                    f"Column {name}: must be a number in [{low}, {high}].",
                ),
            )
    ok = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(count, None, dtype=object)
    geoms[ok] = shapely.points(lon[ok], lat[ok])
    return geoms, bad


# --- validation -------------------------------------------------------------------


@dataclass
class _Checked:
    """One batch after validation: what goes to staging and what to the report."""

    rows: int  # accepted
    wkb_hex: pa.Array  # of the accepted rows, EPSG:4326 (the SRID is the column's)
    values: list[pa.Array | list]  # of the accepted rows, per schema field (None: no value)
    report: list[tuple[int, str, str, dict]]  # row, outcome, reason, raw attributes
    rejected: int = 0
    repaired: int = 0
    flagged: int = 0
    copy_text: memoryview | None = None  # the rows for COPY, written by _Staging.copy_text


class _Validator:
    def __init__(self, *, layer: Layer, format: str, province_box: tuple[float, float, float, float] | None):
        self.layer = layer
        self.format = format
        self.fields = [f for f in layer.schema if f.get("name")]
        self.accepted = ACCEPTED_TYPES[GeometryType(layer.geometry_type)]
        self.box = province_box
        self.tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self._transformers: dict[str, pyproj.Transformer | None] = {}
        self.source_crs = ""

    def _transformer(self, crs: pyproj.CRS | None) -> pyproj.Transformer | None:
        key = crs.to_wkt() if crs is not None else ""
        if key not in self._transformers:
            if crs is None or crs.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
                self._transformers[key] = None
            else:
                self._transformers[key] = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
            self.source_crs = (f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name) if crs is not None else ""
        return self._transformers[key]

    def check(self, batch: _Batch) -> _Checked:
        count = len(batch.rows)
        # Reasons only for the rows that have one: most rows have none.
        reasons: dict[int, list[str]] = defaultdict(list)
        repaired = np.zeros(count, dtype=bool)
        geoms = batch.geoms.copy()
        # Rows whose geometry is no longer the file's WKB (reprojected, repaired, ...).
        changed = batch.changed.copy() if batch.changed is not None else np.ones(count, dtype=bool)

        for i, reason in batch.bad_geometry.items():
            reasons[i].append(reason)
        missing = shapely.is_missing(geoms)
        for i in np.flatnonzero(missing):
            if i not in reasons:
                reasons[i].append(message("Thiếu hình học hoặc không đọc được.", "Missing or unreadable geometry."))
        present = ~missing
        empty = np.zeros(count, dtype=bool)
        empty[present] = shapely.is_empty(geoms[present])
        for i in np.flatnonzero(empty):
            reasons[i].append(message("Hình học rỗng.", "Empty geometry."))
        usable = present & ~empty

        # Reproject, then every coordinate must be a finite lon/lat.
        transformer = self._transformer(batch.crs)
        if transformer is not None and usable.any():
            geoms[usable] = shapely.transform(
                geoms[usable], lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
            )
            changed |= usable
        bounds = np.full((count, 4), np.nan)
        bounds[usable] = shapely.bounds(geoms[usable])
        finite = np.isfinite(bounds).all(axis=1)
        in_range = (
            finite & (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180) & (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90)
        )
        if transformer is None and batch.crs is None and self.format != "csv" and (usable & ~in_range).any():
            raise _refuse(
                "Tệp không khai báo hệ toạ độ và toạ độ không phải kinh độ/vĩ độ; hãy kèm tệp .prj "
                "(ví dụ VN-2000 / TM-3 EPSG:9210).",
                "The file declares no coordinate system and its coordinates are not longitude/latitude; "
                "include the .prj (e.g. VN-2000 / TM-3, EPSG:9210).",
            )
        for i in np.flatnonzero(usable & ~in_range):
            reasons[i].append(
                message("Toạ độ ngoài phạm vi kinh độ/vĩ độ.", "Coordinates outside the longitude/latitude range.")
            )
        usable &= in_range

        # Kind of geometry, size, validity.
        type_ids = np.full(count, -1)
        type_ids[usable] = shapely.get_type_id(geoms[usable])
        for i in np.flatnonzero(usable & ~np.isin(type_ids, list(self.accepted))):
            reasons[i].append(
                message(
                    f"Kiểu hình học {geoms[i].geom_type} không phù hợp lớp {self.layer.geometry_type}.",
                    f"Geometry type {geoms[i].geom_type} does not fit a {self.layer.geometry_type} layer.",
                )
            )
            usable[i] = False
        if self.layer.geometry_type == GeometryType.POINT:
            for i in np.flatnonzero(usable & (type_ids == MULTIPOINT)):
                if shapely.get_num_geometries(geoms[i]) == 1:
                    geoms[i] = shapely.get_geometry(geoms[i], 0)
                    changed[i] = True
                else:
                    reasons[i].append(
                        message(
                            "Lớp điểm không nhận MultiPoint nhiều điểm.", "A Point layer takes no multi-part points."
                        )
                    )
                    usable[i] = False
        vertices = np.zeros(count, dtype=np.int64)
        vertices[usable] = shapely.get_num_coordinates(geoms[usable])
        for i in np.flatnonzero(vertices > MAX_VERTICES):
            reasons[i].append(message(f"Quá {MAX_VERTICES} đỉnh.", f"More than {MAX_VERTICES} vertices."))
            usable[i] = False
        valid = np.ones(count, dtype=bool)
        valid[usable] = shapely.is_valid(geoms[usable])
        for i in np.flatnonzero(usable & ~valid):
            fixed, reason = _repair(geoms[i])
            if fixed is None:
                reasons[i].append(reason)
                usable[i] = False
            else:
                geoms[i] = fixed
                repaired[i] = changed[i] = True
        promote = PROMOTE.get(GeometryType(self.layer.geometry_type))
        if promote is not None:
            single, multi = promote
            for i in np.flatnonzero(usable & (shapely.get_type_id(geoms) == single)):
                geoms[i] = multi([geoms[i]])
                changed[i] = True

        # Properties typed against the schema.
        values: list[pa.Array | list] = []
        for spec in self.fields:
            column = self._column(batch.columns, spec["name"])
            if column is None:
                values.append([None] * count)
                continue
            converted, bad = _convert(spec["type"], column, tz=self.tz)
            required = bool(spec.get("required"))
            for i in np.flatnonzero(bad):
                reasons[i].append(
                    message(
                        f"Trường {spec['name']}: giá trị không hợp lệ cho kiểu {spec['type']}.",
                        f"Field {spec['name']}: invalid value for type {spec['type']}.",
                    )
                )
            if required:
                for i in np.flatnonzero(_no_value(converted) & ~bad):
                    reasons[i].append(message(f"Trường {spec['name']}: bắt buộc.", f"Field {spec['name']}: required."))
            values.append(converted)

        # Far from the province: kept, flagged.
        flagged = np.zeros(count, dtype=bool)
        if self.box is not None:
            min_x, min_y, max_x, max_y = self.box
            final_bounds = np.full((count, 4), np.nan)
            ok = usable.copy()
            ok[list(reasons)] = False
            final_bounds[ok] = shapely.bounds(geoms[ok])
            flagged = ok & (
                (final_bounds[:, 0] < min_x)
                | (final_bounds[:, 1] < min_y)
                | (final_bounds[:, 2] > max_x)
                | (final_bounds[:, 3] > max_y)
            )

        accepted = usable.copy()
        accepted[list(reasons)] = False
        index = np.flatnonzero(accepted)
        taken = pa.array(index, pa.int64())
        checked = _Checked(
            rows=len(index),
            wkb_hex=_wkb_hex(wkb=batch.wkb, geoms=geoms, index=index, changed=changed),
            values=[c.take(taken) if isinstance(c, pa.Array) else [c[i] for i in index] for c in values],
            report=[],
        )
        checked.rejected = int(count - accepted.sum())
        checked.repaired = int((repaired & accepted).sum())
        checked.flagged = int((flagged & accepted).sum())
        for i in np.flatnonzero(~accepted | repaired | flagged):
            if not accepted[i]:
                outcome, reason = "rejected", " | ".join(reasons[i])
            elif flagged[i]:
                outcome = "flagged"
                reason = message(
                    "Cách xa ranh giới tỉnh (quá 20 km); vẫn được nhập, hãy kiểm tra.",
                    "Far outside the province (more than 20 km); imported, please check.",
                )
            else:
                outcome = "repaired"
                reason = message("Hình học không hợp lệ đã được sửa.", "Invalid geometry repaired.")
            checked.report.append((int(batch.rows[i]), outcome, reason, _raw(batch.columns, i)))
        return checked

    def ignored_columns(self, names: list[str]) -> list[str]:
        """The columns of the file that no schema field takes (nor the CSV
        geometry), in the file's order."""
        used = set()
        lowered = {n.lower(): n for n in names}
        for spec in self.fields:
            match = lowered.get(spec["name"].lower())
            if match is None and self.format == "shapefile":
                match = lowered.get(spec["name"].lower()[:10])
            if match is not None:
                used.add(match)
        if self.format == "csv":
            geometry = _csv_geometry_names(names)
            used.update((geometry,) if isinstance(geometry, str) else geometry or ())
        return [n for n in names if n not in used]

    def _column(self, columns: dict[str, pa.Array], name: str) -> pa.Array | None:
        lowered = {n.lower(): n for n in columns}
        match = lowered.get(name.lower())
        if match is None and self.format == "shapefile":
            match = lowered.get(name.lower()[:10])
        return columns[match] if match is not None else None


# Two hexadecimal digits per byte value, as one uint16 each (memory order kept).
HEX_DIGITS = np.frombuffer(b"".join(b"%02X" % i for i in range(256)), dtype=np.uint16)


def _hex(binary: pa.Array) -> pa.Array:
    """Each value of a binary array as upper-case hexadecimal text, in one
    pass over its buffer (no Python object per row)."""
    binary = binary.cast(pa.large_binary())
    if binary.null_count:
        binary = binary.fill_null(b"")
    _, offsets_buffer, data_buffer = binary.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[binary.offset : binary.offset + len(binary) + 1]
    data = np.frombuffer(data_buffer or b"", dtype=np.uint8)[offsets[0] : offsets[-1]]
    return pa.LargeStringArray.from_buffers(
        len(binary), pa.py_buffer((offsets - offsets[0]) * 2), pa.py_buffer(HEX_DIGITS[data])
    )


def _wkb_hex(*, wkb: pa.Array | None, geoms: np.ndarray, index: np.ndarray, changed: np.ndarray) -> pa.Array:
    """The rows `index` as hex WKB: the file's own bytes where the geometry
    is as read, shapely's WKB (2D) where it was changed."""
    remade = changed[index]
    if wkb is None or remade.all():
        return pa.array(shapely.to_wkb(geoms[index], hex=True, output_dimension=2), pa.large_string())
    out = _hex(wkb.take(pa.array(index, pa.int64())))
    if remade.any():
        new = shapely.to_wkb(geoms[index[remade]], hex=True, output_dimension=2)
        out = pc.replace_with_mask(out, pa.array(remade), pa.array(new, pa.large_string()))
    return out


def _no_value(values: pa.Array | list) -> np.ndarray:
    if isinstance(values, pa.Array):
        return values.is_null().to_numpy(zero_copy_only=False)
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


def _repair(geom) -> tuple[object | None, str]:
    dimension = shapely.get_dimensions(geom)
    refused = message(
        "Hình học không hợp lệ và không sửa được an toàn.", "Invalid geometry that cannot be repaired safely."
    )
    if dimension == 0:
        return None, refused
    linework = _keep_dimension(shapely.make_valid(geom, method="linework"), dimension)
    if linework is None:
        return None, refused
    if dimension == 2:
        structure = _keep_dimension(shapely.make_valid(geom, method="structure", keep_collapsed=False), dimension)
        if structure is None:
            return None, refused
        largest = max(linework.area, structure.area)
        if largest <= 0 or shapely.symmetric_difference(linework, structure).area > REPAIR_MAX_AREA_CHANGE * largest:
            return None, message(
                "Đa giác không hợp lệ, cách sửa không rõ ràng (các phần chồng lấn hoặc vòng cắt nhau).",
                "Invalid polygon whose repair is ambiguous (overlapping parts or crossing rings).",
            )
    elif abs(linework.length - geom.length) > REPAIR_MAX_AREA_CHANGE * max(geom.length, 1e-12):
        return None, refused
    return linework, ""


def _keep_dimension(geom, dimension: int):
    """The parts of a make_valid result that have the original's dimension."""
    if geom is None or geom.is_empty:
        return None
    parts = shapely.get_parts(geom)
    kept = [p for p in parts if shapely.get_dimensions(p) == dimension and not p.is_empty]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    if dimension == 2:
        return shapely.MultiPolygon([q for p in kept for q in shapely.get_parts(p)])
    return shapely.MultiLineString([q for p in kept for q in shapely.get_parts(p)])


def _raw(columns: dict[str, pa.Array], i: int) -> dict:
    return {name: _jsonable(column[i].as_py()) for name, column in columns.items()}


def _jsonable(value):
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


# --- typing properties --------------------------------------------------------------


def _numbers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN for null) and a flag for values present but not numbers."""
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return values, np.zeros(len(values), dtype=bool)
    values = np.full(len(column), np.nan)
    bad = np.zeros(len(column), dtype=bool)
    for i, item in enumerate(column.to_pylist()):
        if item is None or (isinstance(item, str) and not item.strip()):
            continue
        try:
            values[i] = float(item.strip()) if isinstance(item, str) else float(item)
        except (TypeError, ValueError):
            bad[i] = True
    return values, bad


def _convert(kind: str, column: pa.Array, *, tz: zoneinfo.ZoneInfo) -> tuple[pa.Array | list, np.ndarray]:
    """Values for the staging column (null or None for no value) and a flag
    per row whose value does not fit the type. Columns already of the right
    Arrow type stay Arrow arrays (a million rows must not mean a million
    Python calls each); others are parsed value by value into a list."""
    arrow_type = column.type
    bad = np.zeros(len(column), dtype=bool)
    if kind == FieldType.STRING and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)):
        # PostgreSQL text cannot hold NUL.
        nul = pc.fill_null(pc.match_substring(column, "\x00"), False)
        bad = nul.to_numpy(zero_copy_only=False).copy()
        return (pc.if_else(nul, pa.scalar(None, arrow_type), column) if bad.any() else column), bad
    if kind == FieldType.INTEGER and pa.types.is_integer(arrow_type):
        if pa.types.is_uint64(arrow_type):
            too_big = pc.fill_null(pc.greater(column, 2**63 - 1), False)
            bad = too_big.to_numpy(zero_copy_only=False).copy()
            if bad.any():
                column = pc.if_else(too_big, pa.scalar(None, arrow_type), column)
        return column, bad
    if kind == FieldType.NUMBER and (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)  # null -> NaN
        bad = np.isinf(values)
        return pa.array(values, pa.float64(), mask=~np.isfinite(values)), bad
    if kind == FieldType.BOOLEAN and pa.types.is_boolean(arrow_type):
        return column, bad
    if kind == FieldType.DATE and pa.types.is_date(arrow_type):
        return column.cast(pa.string()), bad  # ISO 8601
    items = column.to_pylist()
    if kind == FieldType.STRING:
        out = []
        for i, item in enumerate(items):
            text = _as_text(item)
            if text is not None and "\x00" in text:
                bad[i] = True
                text = None
            out.append(text)
        return out, bad
    parse = {
        FieldType.INTEGER: _parse_integer,
        FieldType.NUMBER: _parse_number,
        FieldType.BOOLEAN: _parse_boolean,
        FieldType.DATE: _parse_date,
        FieldType.DATETIME: lambda item: _parse_datetime(item, tz),
    }.get(kind)
    if parse is None:
        return [None] * len(items), bad
    return _per_item(items, bad, parse)


def _per_item(items: list, bad: np.ndarray, parse: Callable) -> tuple[list, np.ndarray]:
    out = []
    for i, item in enumerate(items):
        if item is None or (isinstance(item, str) and not item.strip()):
            out.append(None)
            continue
        try:
            out.append(parse(item))
        except (TypeError, ValueError, OverflowError):
            bad[i] = True
            out.append(None)
    return out, bad


def _as_text(item) -> str | None:
    if item is None:
        return None
    if isinstance(item, float):
        if math.isnan(item):
            return None
        return str(int(item)) if item.is_integer() and abs(item) < 2**53 else repr(item)
    if isinstance(item, dt.date | dt.datetime):
        return item.isoformat()
    return str(item)


def _parse_integer(item) -> int:
    if isinstance(item, bool):
        raise ValueError(item)
    if isinstance(item, float):
        if not item.is_integer():
            raise ValueError(item)
        item = int(item)
    if isinstance(item, str):
        text = item.strip()
        number = float(text) if "." in text else int(text)
        if isinstance(number, float) and not number.is_integer():
            raise ValueError(item)
        item = int(number)
    if not isinstance(item, int) or not -(2**63) <= item < 2**63:
        raise ValueError(item)
    return item


def _parse_number(item) -> float:
    if isinstance(item, bool):
        raise ValueError(item)
    value = float(item.strip()) if isinstance(item, str) else float(item)
    if math.isinf(value):
        raise ValueError(item)
    if math.isnan(value):
        raise ValueError(item)
    return value


def _parse_boolean(item) -> bool:
    if isinstance(item, bool):
        return item
    if isinstance(item, int | float) and item in (0, 1):
        return bool(item)
    if isinstance(item, str):
        word = item.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(item)


def _parse_date(item) -> str:
    if isinstance(item, dt.datetime):
        if item.time() != dt.time(0):
            raise ValueError(item)
        return item.date().isoformat()
    if isinstance(item, dt.date):
        return item.isoformat()
    if isinstance(item, str):
        text = item.strip().replace("/", "-")
        if len(text) != 10:
            raise ValueError(item)
        return dt.date.fromisoformat(text).isoformat()
    raise ValueError(item)


def _parse_datetime(item, tz: zoneinfo.ZoneInfo) -> str:
    if isinstance(item, dt.datetime):
        value = item
    elif isinstance(item, dt.date):
        value = dt.datetime.combine(item, dt.time(0))
    elif isinstance(item, str):
        text = item.strip()
        # GDAL writes "2024/01/02 03:04:05+00" into shapefiles and KML.
        if len(text) >= 10 and text[4] == "/" and text[7] == "/":
            text = f"{text[:4]}-{text[5:7]}-{text[8:]}"
        value = dt.datetime.fromisoformat(text)
    else:
        raise ValueError(item)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC).isoformat()


# --- staging and the swap ---------------------------------------------------------


def _province_box() -> tuple[float, float, float, float] | None:
    unit = (
        AdministrativeUnit.objects.filter(
            era=Era.POST_2025, level=UnitLevel.PROVINCE, code=settings.PORTAL_PROVINCE_CODE
        )
        .only("geom")
        .first()
    )
    if unit is None:
        return None
    min_x, min_y, max_x, max_y = unit.geom.extent
    mid_lat = math.radians((min_y + max_y) / 2)
    margin_lat = PROVINCE_MARGIN_M / 111_320
    margin_lon = PROVINCE_MARGIN_M / (111_320 * math.cos(mid_lat))
    return min_x - margin_lon, min_y - margin_lat, max_x + margin_lon, max_y + margin_lat


class _Staging:
    """Where accepted rows wait for the swap, as features: EWKB and the
    properties as JSON text written here (`_properties_json`), so PostgreSQL
    only parses them.

    Replace mode: a new table of the job's name shaped like the layer's
    partition (partitions.py), COPYed into batch by batch, indexed once
    loaded (`partition_build`), attached by the swap. Append mode: a session
    TEMP table, INSERTed into layers_feature by the swap; behind a
    transaction-mode pooler (DATABASE_POOLER) each transaction may run on
    another server session, which would not see it: then an UNLOGGED table of
    the job's own name (a rerun of the job drops what a crash left)."""

    def __init__(self, *, job: ImportJob, layer: Layer, fields: list[dict]):
        self.layer = layer
        self.replace = job.mode == ImportJob.Mode.REPLACE
        self.fields = fields
        self.keys = [json.dumps(f["name"], ensure_ascii=False) + ":" for f in fields]
        # Per attempt: a run taken for dead may still be running its build.
        self.table = f"import_partition_{job.pk}_{job.attempts}" if self.replace else f"import_staging_{job.pk}"
        self.earlier = [f"import_partition_{job.pk}_{attempt}" for attempt in range(job.attempts)]
        # Replace mode: set by partition_build, saved on the layer by the swap.
        self.distinct_fields: list[str] = []

    def create(self) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            if self.replace:
                partition_table_create(table=self.table, layer_id=self.layer.pk)
                # Only while loading: COPY sends geometry and properties.
                cursor.execute(
                    f"ALTER TABLE {self.table} ALTER layer_id SET DEFAULT {int(self.layer.pk)}, "
                    "ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now()"
                )
                return
            kind = "UNLOGGED" if settings.DATABASE_POOLER else "TEMP"
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(f"CREATE {kind} TABLE {self.table} (geom geometry(Geometry, 4326), properties jsonb)")

    def copy_text(self, checked: _Checked) -> memoryview | None:
        """The batch's rows as COPY reads them (no database: the reading
        thread writes it)."""
        if not checked.rows:
            return None
        properties = _properties_json(self.keys, self.fields, checked.values, checked.rows)
        return _copy_rows(checked.wkb_hex, properties)

    def load(self, checked: _Checked) -> None:
        if checked.copy_text is None:
            return
        with connection.cursor() as cursor:
            # Staging rows need no flush to disk at each batch's commit: a crash
            # loses the staging table's state with the run, which starts over
            # (the swap's own commit stays synchronous).
            cursor.execute("SET LOCAL synchronous_commit = off")
            with cursor.cursor.copy(f"COPY {self.table} (geom, properties) FROM STDIN") as copy:
                copy.write(checked.copy_text)

    def partition_build(self, rows: int) -> None:
        """Replace mode: the loaded table (`rows` rows) indexed, ready for the
        swap; string fields whose values nearly all differ get btrees of
        their own (partitions.py)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE {self.table} ALTER layer_id DROP DEFAULT, "
                "ALTER created_at DROP DEFAULT, ALTER updated_at DROP DEFAULT"
            )
        self.distinct_fields = distinct_fields_choose(self.table, self.fields, rows)
        partition_table_index(self.table, self.distinct_fields)

    def swap_in(self) -> None:
        """The staged rows become the layer's features: in replace mode in
        place of the ones it had. Inside the swap transaction."""
        if self.replace:
            partition_swap(layer_id=self.layer.pk, table=self.table)
            # What the new partition's indexes were built for (the filters' SQL reads it).
            self.layer.distinct_fields = self.distinct_fields
            Layer.objects.filter(pk=self.layer.pk).update(distinct_fields=self.distinct_fields)
            return
        layer_partition_ensure(self.layer.pk)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {PARENT} (layer_id, geom, properties, created_at, updated_at)
                    SELECT %s, geom, properties, now(), now() FROM {self.table}""",
                [self.layer.pk],
            )

    def drop(self) -> None:
        """The staging table unless the swap took it (and any that
        interrupted attempts of the job left)."""
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                for table in [*self.earlier, self.table]:
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
        except DatabaseError:
            # The session is gone or the outer transaction failed: a TEMP
            # table disappears with its session anyway.
            pass


def _number(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _properties_json(keys: list[str], fields: list[dict], values: list[pa.Array | list], rows: int) -> pa.Array:
    """Each row's properties as a JSON object text, without the fields that
    have no value (what jsonb_strip_nulls(jsonb_build_object(...)) gave):
    column by column, one fragment per value (in Arrow for Arrow columns),
    then joined per row."""
    fragments = [
        pc.binary_join_element_wise(key, _value_json(spec["type"], column), ",", "")  # null stays null
        for key, spec, column in zip(keys, fields, values, strict=True)
    ]
    if not fragments:
        return pa.array(["{}"] * rows, pa.string())
    # Nulls joined as "" (null_handling="skip" drops rows where all are null,
    # pyarrow 26), then the last comma off: no JSON value ends with one.
    joined = pc.binary_join_element_wise(*fragments, "", null_handling="replace", null_replacement="")
    return pc.binary_join_element_wise("{", pc.utf8_rtrim(joined, ","), "}", "")


def _value_json(kind: str, column: pa.Array | list) -> pa.Array:
    """One field's values as JSON texts (null: no value)."""
    string = json.encoder.encode_basestring  # C: escapes quotes, backslashes, controls
    if not isinstance(column, pa.Array):
        if kind == FieldType.INTEGER:
            texts = [None if v is None else str(v) for v in column]
        elif kind == FieldType.NUMBER:
            # Finite only (the validator turns others into no value). The shortest
            # form, as PostgreSQL turns a float8 into numeric, and 2.0 as 2.
            texts = [None if v is None else _number(v) for v in column]
        elif kind == FieldType.BOOLEAN:
            texts = [None if v is None else ("true" if v else "false") for v in column]
        else:
            texts = [None if v is None else string(v) for v in column]
        return pa.array(texts, pa.string())
    if kind in (FieldType.INTEGER, FieldType.NUMBER, FieldType.BOOLEAN):
        # Arrow writes a float8 in its shortest round-trip form (2.0 as 2, 1e15
        # as 1e+15): the same numeric once PostgreSQL has read it.
        return column.cast(pa.string())
    column = column.cast(pa.string())
    quoted = pc.binary_join_element_wise('"', column, '"', "")
    # Quotes, backslashes and control characters need escapes: the few such
    # values are written by Python's JSON encoder.
    escape = pc.fill_null(pc.match_substring_regex(column, r'[\x00-\x1f"\\]'), False)
    if pc.any(escape).as_py():
        mask = escape.to_numpy(zero_copy_only=False)
        texts = [string(v) for v in column.filter(escape).to_pylist()]
        quoted = pc.replace_with_mask(quoted, pa.array(mask), pa.array(texts, pa.string()))
    return quoted


def _copy_rows(wkb_hex: pa.Array, properties: pa.Array) -> memoryview:
    """COPY's text format of (geom, properties) rows: tab-separated,
    backslashes doubled (the JSON's escapes), one line a row, as one buffer."""
    text = pa.large_string()
    tab, newline, nothing = (pa.scalar(s, text) for s in ("\t", "\n", ""))
    lines = pc.binary_join_element_wise(wkb_hex.cast(text), tab, properties.cast(text), newline, nothing)
    lines = pc.replace_substring(lines, "\\", "\\\\")
    _, offsets_buffer, data_buffer = lines.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(data_buffer)[offsets[0] : offsets[-1]]


class _Report:
    """The CSV of rejected, repaired and flagged rows, opened on first use:
    UTF-8 with a BOM, every cell through spreadsheet_cell. Written where the
    media store keeps it when that is a local folder (a partial report is
    visible while the import runs); else to a temporary file that is stored
    in the object store when the report is closed."""

    def __init__(self, job: ImportJob):
        self.relative = f"imports/job-{job.pk}-{uuid.uuid4().hex[:12]}-errors.csv"
        self.storage = media_storage()
        self.local = is_local(self.storage)
        self.path = Path(self.storage.path(self.relative)) if self.local else None
        self._handle = None
        self._writer = None
        self._stored = False

    def write(self, entries: list[tuple[int, str, str, dict]]) -> None:
        if not entries:
            return
        if self._writer is None:
            if self.local:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("w", encoding="utf-8-sig", newline="")
            else:
                self._handle = tempfile.TemporaryFile("w+", encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed by close())
            self._writer = SafeCsvWriter(self._handle)
            self._writer.writerow(["row", "outcome", "reason", "attributes"])
        for row, outcome, reason, raw in entries:
            self._writer.writerow([row, outcome, reason, json.dumps(raw, ensure_ascii=False, default=str)])

    def close(self) -> str:
        if self._handle is None:
            return ""
        if not self.local and not self._stored:
            self._handle.flush()
            self._handle.buffer.seek(0)
            self.storage.save(self.relative, File(self._handle.buffer))
            self._stored = True
        self._handle.close()
        return self.relative

    def discard(self) -> None:
        if self._handle is None:
            return
        self.close()
        self.storage.delete(self.relative)


class _Superseded(Exception):
    """This run was given up on (its worker looked dead) and the job requeued
    or failed; another run owns it now, so this one must change nothing."""


def _job_update(job: ImportJob, *, starting: bool = False, **values) -> bool:
    """Progress is committed as it happens (outside the swap transaction) so
    the web page can show it while the import runs. Only the run that owns the
    job writes: its attempt, still running (or, `starting`, still queued);
    False when the job has been requeued, failed or claimed again since."""
    for name, value in values.items():
        setattr(job, name, value)
    statuses = [ImportJob.Status.RUNNING, ImportJob.Status.QUEUED] if starting else [ImportJob.Status.RUNNING]
    return bool(ImportJob.objects.filter(pk=job.pk, attempts=job.attempts, status__in=statuses).update(**values))


def _job_ended_by(job: ImportJob) -> bool:
    """Whether this run brought the job to its end (succeeded or failed)."""
    ended = (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED)
    try:
        return ImportJob.objects.filter(pk=job.pk, attempts=job.attempts, status__in=ended).exists()
    except DatabaseError:
        return False  # cannot tell: keep the upload for a retry


def layer_import(*, job: ImportJob, progress: Progress | None = None) -> ImportJob:
    """Run one import job to its end: `succeeded` with the layer swapped, or
    `failed` with the layer untouched and the reason in `job.message`.
    Refusals of the file are returned as a failed job; anything unexpected
    (the database going away) marks the job failed and is raised. A worker
    runs a job through `import_job_run` (claim and heartbeats); a worker
    killed half-way leaves the layer as it was and the upload in place for
    the next attempt."""
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
        return job
    started = _job_update(
        job,
        starting=True,
        status=ImportJob.Status.RUNNING,
        started_at=job.started_at or timezone.now(),
        rows_done=0,
        rows_imported=0,
        rows_repaired=0,
        rows_rejected=0,
        rows_flagged=0,
        message="",
    )
    if not started:
        return job  # another attempt owns the job already
    import_job_reports_discard(job)  # left by an interrupted attempt
    layer = Layer.objects.get(pk=job.layer_id)
    report = _Report(job)
    staging = _Staging(job=job, layer=layer, fields=[f for f in layer.schema if f.get("name")])
    try:
        _run(job=job, layer=layer, staging=staging, report=report, progress=progress)
    except _Superseded:
        report.discard()
        logger.warning("import job %s: attempt %s was superseded; it changed nothing", job.pk, job.attempts)
    except ImportRefused as refusal:
        _job_update(
            job,
            status=ImportJob.Status.FAILED,
            message=str(refusal),
            error_report_path=report.close(),
            finished_at=timezone.now(),
        )
    except BaseException:
        _job_update(
            job,
            status=ImportJob.Status.FAILED,
            message=message(
                "Lỗi hệ thống khi nhập; lớp không thay đổi.", "System error during import; layer unchanged."
            ),
            error_report_path=report.close(),
            finished_at=timezone.now(),
        )
        raise
    finally:
        report.close()
        staging.drop()
        if _job_ended_by(job):
            import_upload_discard(job)
    return job


def _run(*, job: ImportJob, layer: Layer, staging: _Staging, report: _Report, progress: Progress | None) -> None:
    with import_source(job) as path:
        _run_file(path=path, job=job, layer=layer, staging=staging, report=report, progress=progress)


def _run_file(
    *, path: Path, job: ImportJob, layer: Layer, staging: _Staging, report: _Report, progress: Progress | None
) -> None:
    if not path.is_file():
        raise _refuse("Không tìm thấy tệp đã tải lên.", "The uploaded file is missing.")
    _check_size(path)
    format = import_format_detect(path=path, source_name=job.source_name)
    source = _open_source(path=path, format=format)
    try:
        total = _count_features(source)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError):
        total = None
    _job_update(job, format=format, rows_total=total)
    if progress:
        progress(0, total)

    validator = _Validator(layer=layer, format=format, province_box=_province_box())
    phases = _Phases()
    staging.create()
    first_problem: tuple[int, str] | None = None
    counts = {"rows_done": 0, "rows_imported": 0, "rows_repaired": 0, "rows_rejected": 0, "rows_flagged": 0}
    ignored: list[str] = []
    try:
        for done, column_names, checked in _ahead(_checked_batches(source, validator, staging, phases), phases):
            new_ignored = [n for n in validator.ignored_columns(column_names) if n not in ignored]
            if new_ignored:
                ignored += new_ignored
                report.write([(0, "column_ignored", _ignored_message(new_ignored), {})])
            with phases.timed("copy"), transaction.atomic():
                staging.load(checked)
            report.write(checked.report)
            if first_problem is None:
                first_problem = next(((r, why) for r, outcome, why, _ in checked.report if outcome == "rejected"), None)
            counts["rows_done"] += done
            counts["rows_imported"] += checked.rows
            counts["rows_repaired"] += checked.repaired
            counts["rows_rejected"] += checked.rejected
            counts["rows_flagged"] += checked.flagged
            _job_update(job, source_crs=validator.source_crs[:500], **counts)
            if progress:
                progress(counts["rows_done"], total)
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        pyogrio.errors.FeatureError,
        pyproj.exceptions.CRSError,
        pa.ArrowException,
        OSError,
    ) as error:
        raise _refuse(
            f"Tệp {FORMAT_NAMES[format]} bị hỏng, đọc đến dòng {counts['rows_done']} thì lỗi.",
            f"The {FORMAT_NAMES[format]} file is broken; reading failed after row {counts['rows_done']}.",
        ) from error

    imported, done = counts["rows_imported"], counts["rows_done"]
    if done == 0:
        raise _refuse("Tệp không có đối tượng nào.", "The file has no features.")
    if imported == 0 or imported < MIN_ACCEPTED_SHARE * done:
        row, why = first_problem or (0, "")
        raise ImportRefused(
            message(
                f"Chỉ {imported}/{done} dòng hợp lệ; tệp bị từ chối, lớp không thay đổi. Xem báo cáo lỗi.",
                f"Only {imported} of {done} rows are valid; the file is refused and the layer is unchanged. "
                "See the error report.",
            )
            + f" — {row}: {why}"
            + (f" {_ignored_message(ignored)}" if ignored else "")
        )

    report_path = report.close()
    names = ", ".join(ignored)
    summary = message(
        f"Đã nhập {imported} đối tượng ({job.mode}); sửa {counts['rows_repaired']}, từ chối "
        f"{counts['rows_rejected']}, cảnh báo ngoài tỉnh {counts['rows_flagged']}."
        + (f" Cột không có trong lược đồ của lớp, không nhập: {names}." if ignored else ""),
        f"Imported {imported} features ({job.mode}); {counts['rows_repaired']} repaired, "
        f"{counts['rows_rejected']} rejected, {counts['rows_flagged']} flagged outside the province."
        + (f" Columns not in the layer's schema, not imported: {names}." if ignored else ""),
    )
    if job.mode == ImportJob.Mode.REPLACE:
        with phases.timed("index"):
            staging.partition_build(imported)
    note = (
        f"{job.mode}: {imported} imported, {counts['rows_repaired']} repaired, "
        f"{counts['rows_rejected']} rejected, {counts['rows_flagged']} flagged ({job.source_name})"
    )[:300]
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            with phases.timed("swap"):
                _swap(job=job, layer=layer, staging=staging, note=note, summary=summary, report_path=report_path)
            logger.info("import job %s: %s rows, seconds: %s", job.pk, imported, phases.summary())
            return
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            if attempt == SWAP_ATTEMPTS:
                raise _refuse(
                    "Dữ liệu của lớp đang được một giao dịch dài đọc; chưa thể thay thế, lớp không thay đổi. "
                    "Hãy thử lại sau.",
                    "The layer's features are held by a long-running read; the import could not be swapped in "
                    "and the layer is unchanged. Try again later.",
                ) from error
            logger.warning("import job %s: swap waited too long for a lock (try %s)", job.pk, attempt)
            time.sleep(SWAP_RETRY_PAUSE_S)


def _checked_batches(
    source: _Source, validator: _Validator, staging: _Staging, phases: _Phases
) -> Iterator[tuple[int, list[str], _Checked]]:
    """(rows read, the file's column names, the checked batch with its COPY
    text) per batch. Touches no database: it runs in the reading thread."""
    batches = _read_batches(source)
    while True:
        with phases.timed("read"):
            batch = next(batches, None)
        if batch is None:
            return
        with phases.timed("check"):
            checked = validator.check(batch)
            checked.copy_text = staging.copy_text(checked)
        yield len(batch.rows), list(batch.columns), checked


def _ahead(items: Iterator, phases: _Phases, *, depth: int = AHEAD_BATCHES) -> Iterator:
    """`items`, produced by a thread of their own at most `depth` ahead: the
    next batches are read and checked (GDAL, GEOS and Arrow, mostly without
    the GIL) while this thread's COPY waits for the server. An error there
    is raised here; leaving early stops the thread before returning."""
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as error:  # handed to the consuming thread, raised there
            put((end, error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            with phases.timed("wait"):
                item, error = queue.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        thread.join()


class _Phases:
    """Seconds spent per step of an import (the reading thread's steps
    overlap the COPY), logged at its end: where an import's time goes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.started = time.perf_counter()

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - began

    def summary(self) -> str:
        total = time.perf_counter() - self.started
        steps = ", ".join(f"{name} {seconds:.2f}" for name, seconds in self.seconds.items())
        return f"{steps}; total {total:.2f} s"


def _swap(*, job: ImportJob, layer: Layer, staging: _Staging, note: str, summary: str, report_path: str) -> None:
    with transaction.atomic():
        # One swap at a time per layer; readers see the old or the new set.
        # The job row is locked after the layer, so it keeps its heartbeats
        # while waiting for another swap; a run whose worker was taken for
        # dead meanwhile (its job requeued or failed) must not swap.
        Layer.objects.select_for_update().filter(pk=layer.pk).first()
        if not outbox_owns(job):
            raise _Superseded
        staging.swap_in()
        FeatureChange.objects.create(layer=layer, action=FeatureChange.Action.IMPORT, user_id=job.user_id, note=note)
        layer_touch(layer)
        _job_update(
            job,
            status=ImportJob.Status.SUCCEEDED,
            message=summary,
            error_report_path=report_path,
            finished_at=timezone.now(),
        )


def _ignored_message(names: list[str]) -> str:
    joined = ", ".join(names)
    return message(
        f"Cột không có trong lược đồ của lớp, không nhập: {joined}.",
        f"Columns not in the layer's schema, not imported: {joined}.",
    )


# --- jobs -------------------------------------------------------------------------


def import_job_create(
    *,
    layer: Layer,
    acting_user,
    source_name: str,
    mode: str,
    upload=None,
    path: Path | None = None,
    enqueue: bool = True,
) -> ImportJob:
    """A queued import job for `layer`. An `upload` (Django UploadedFile) is
    stored under MEDIA_ROOT/imports by a generated name, never the client's;
    a local `path` (management command) is read where it is. With `enqueue`,
    the Celery task is sent once the job row is committed."""
    suffix = PurePosixPath(source_name.lower()).suffix
    if suffix not in FORMAT_BY_EXTENSION:
        known = ", ".join(sorted(FORMAT_BY_EXTENSION))
        raise _refuse(
            f"Định dạng tệp không được hỗ trợ; dùng một trong: {known}.",
            f"Unsupported file type; use one of: {known}.",
        )
    if mode not in ImportJob.Mode.values:
        raise _refuse("Chế độ nhập không hợp lệ.", "Unknown import mode.")
    if upload is not None:
        if upload.size > settings.UPLOAD_MAX_BYTES:
            limit_mb = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
            raise _refuse(f"Tệp quá lớn; giới hạn {limit_mb} MB.", f"File too large; the limit is {limit_mb} MB.")
        stored = media_storage().save(f"imports/{uuid.uuid4().hex}{suffix}", upload)
    elif path is not None:
        stored = str(Path(path).resolve())
    else:
        raise ValueError("upload or path is required")
    with transaction.atomic():
        job = ImportJob.objects.create(
            layer=layer,
            user=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            source_name=PurePosixPath(source_name.replace("\\", "/")).name[:255],
            stored_path=stored,
            mode=mode,
        )
        if enqueue:
            # Sent once committed; if the broker is unreachable the job stays
            # queued and unpublished, and the outbox sweep sends it later.
            outbox_publish_on_commit(job)
    return job


def import_job_run(*, job_id: int, progress: Progress | None = None) -> ImportJob | None:
    """Claim the job and import it with heartbeats: what the worker's task and
    the management command do. None when there is nothing to run (the job has
    ended, or a live worker is on it)."""
    job = outbox_claim(ImportJob, job_id)
    if job is None:
        return None
    with outbox_heartbeat(job):
        return layer_import(job=job, progress=progress)


def import_upload_discard(job: ImportJob) -> None:
    """Remove an uploaded file once its job has ended (never a command's own file)."""
    if _uploaded(job) and PurePosixPath(job.stored_path).parent == PurePosixPath("imports"):
        media_storage().delete(job.stored_path)


def import_job_reports_discard(job: ImportJob) -> None:
    """Remove error reports of the job's interrupted attempts (all but the one
    the job points to)."""
    storage = media_storage()
    for name in import_job_reports(job):
        if name != job.error_report_path:
            storage.delete(name)


def import_job_reports(job: ImportJob) -> list[str]:
    """Names of every error report the job's attempts stored."""
    return [
        name
        for name in names_under(media_storage(), "imports", prefix=f"job-{job.pk}-")
        if name.endswith("-errors.csv")
    ]


def import_job_files_discard(job: ImportJob) -> None:
    """The clean-up of a job the outbox gave up on: its upload, the partial
    reports of its interrupted attempts and the tables they were building."""
    import_upload_discard(job)
    import_job_reports_discard(job)
    with transaction.atomic(), connection.cursor() as cursor:
        for attempt in range(job.attempts + 1):
            cursor.execute(f"DROP TABLE IF EXISTS import_partition_{int(job.pk)}_{attempt}")
