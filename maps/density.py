"""Dossier density: counts of dossiers per H3 cell or per commune, for the
planning map. Reads only.

Every dossier carries its areas, found when it is written: H3 cells
(h3_r6..h3_r9), the applicant's 2025 commune and the 2019 commune holding its
location. `dossiers.density_counts` keeps DensityCount, the dossiers per
month, area and filter (none, one, or a pair of them). A query reads those rows for the whole months
of its period, and DensityDayCount (without a status filter) or the
dossiers themselves (a GROUP BY on the stored area column) for the days at
the edges: added, or taken from the edge's whole month when the month's
other days are fewer (`_period_split`); the whole period from the dossiers
when its filters are not pre-counted. The ended quarters of a period come
from DensityQuarterCount once they are summed (the filters with day rows). No geometry is touched while counting; H3
cell polygons are built in Python from the cell ids of the answer only."""

import datetime as dt
import functools
import json
import math
from dataclasses import dataclass

import h3.api.basic_int as h3
import numpy as np
import shapely
from django.utils import timezone

from dossiers.density_counts import (
    ALL,
    AREAS,
    CHANNEL,
    COMMUNES_2019,
    COMMUNES_2025,
    DAY_DIMENSIONS,
    PAIRS,
    PROCEDURE,
    STATUS,
    STATUS_KEYS,
    pair_key,
    quarter_start,
    quarters_ended_before,
)
from dossiers.models import H3_RESOLUTIONS, Procedure
from gisportal.api import month_start
from gisportal.dbrouting import read_connection
from layers.models import Era

RESOLUTIONS = H3_RESOLUTIONS
TILE_EXTENT = 4096
TILE_LAYER = "density"


@dataclass(frozen=True)
class DensityFilters:
    date_from: dt.date
    date_to: dt.date
    procedure_id: int | None = None
    sector_id: int | None = None
    channel: int | None = None
    status: str | None = None


def _where(filters: DensityFilters, day_from: dt.date, day_end: dt.date, alias: str = "d") -> tuple[str, list]:
    """SQL conditions on dossiers for the filters, received in whole local
    days from `day_from` up to `day_end` (excluded)."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(day_from, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day_end, dt.time.min, tzinfo=zone)
    conditions = [f"{alias}.received_at >= %s", f"{alias}.received_at < %s"]
    params: list = [start, end]
    if filters.procedure_id is not None:
        conditions.append(f"{alias}.procedure_id = %s")
        params.append(filters.procedure_id)
    if filters.sector_id is not None:
        conditions.append(f"{alias}.procedure_id IN (SELECT id FROM dossiers_procedure WHERE sector_id = %s)")
        params.append(filters.sector_id)
    if filters.channel is not None:
        conditions.append(f"{alias}.channel = %s")
        params.append(filters.channel)
    if filters.status is not None:
        conditions.append(f"{alias}.status = %s")
        params.append(filters.status)
    return " AND ".join(conditions), params


def _precounted_key(filters: DensityFilters, area: int) -> tuple[str, list[int]] | None:
    """(dimension, keys) of the DensityCount rows that answer the filters in
    this area, or None when they are not pre-counted (all three filters at
    once, or filters the area does not keep). A sector is the list of its
    procedures' keys (with a procedure too: that procedure if it is in the
    sector, else none)."""
    keys: dict[str, list[int]] = {}
    if filters.procedure_id is not None or filters.sector_id is not None:
        procedures = None if filters.procedure_id is None else {filters.procedure_id}
        if filters.sector_id is not None:
            in_sector = set(Procedure.objects.filter(sector_id=filters.sector_id).values_list("id", flat=True))
            procedures = in_sector if procedures is None else procedures & in_sector
        keys[PROCEDURE] = sorted(procedures)
    if filters.channel is not None:
        keys[CHANNEL] = [filters.channel]
    if filters.status is not None:
        keys[STATUS] = [STATUS_KEYS[filters.status]]
    if not keys:
        return ALL, [0]
    if len(keys) == 1:
        ((name, values),) = keys.items()
    elif len(keys) == 2:
        name = next((pair for pair, parts in PAIRS.items() if set(parts) == set(keys)), None)
        if name is None:
            return None
        first, second = PAIRS[name]
        values = [pair_key(a, b) for a in keys[first] for b in keys[second]]
    else:
        return None
    return (name, values) if name in AREAS[area][1] else None


def _period_split(
    filters: DensityFilters, today: dt.date
) -> tuple[tuple[dt.date, dt.date] | None, list[tuple[dt.date, dt.date, int]]]:
    """The period as whole months [first, end) read from the pre-counted
    rows (None if there are none) and the day ranges [from, end) at its
    edges, each with its sign. A part-month edge is read as its own days
    (+1), or as its whole month less the month's other days (-1) when those
    are fewer; days after `today` count as none (no dossier is received
    later), so "the last 12 months" reads this month's row, not its days."""
    start, end = filters.date_from, filters.date_to + dt.timedelta(days=1)
    first = start if start.day == 1 else month_start(start, -1)  # the 1st on or after the start
    last = end.replace(day=1)  # the 1st on or before the end
    low, high = start.replace(day=1), (end if end.day == 1 else month_start(end, -1))
    horizon = today + dt.timedelta(days=1)

    def cost(day_from: dt.date, day_end: dt.date) -> int:
        return max(0, (min(day_end, horizon) - day_from).days)

    if first > last:  # within one month, from a day after its 1st to a day before its last
        if cost(low, start) + cost(end, high) < cost(start, end):
            return (low, high), [(a, b, -1) for a, b in ((low, start), (end, high)) if a < b]
        return None, [(start, end, 1)]
    # Each part-month edge: the month less its other days where those are fewer, else its own days.
    whole_start = start < first and cost(low, start) < cost(start, first)
    whole_end = last < end and cost(end, high) < cost(last, end)
    ranges = []
    if start < first:
        ranges.append((low, start, -1) if whole_start else (start, first, 1))
    if last < end:
        ranges.append((end, high, -1) if whole_end else (last, end, 1))
    months = (low if whole_start else first, high if whole_end else last)
    return (months if months[0] < months[1] else None), ranges


def _whole_quarters(months: tuple[dt.date, dt.date], today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The quarters [first, end) that lie whole within the months [first,
    end) and have ended (`quarters_ended_before`), or None."""
    first, end = months
    start = quarter_start(first)
    if start < first:
        start = month_start(start, -3)
    stop = min(quarter_start(end), quarters_ended_before(today))
    return (start, stop) if start < stop else None


def density_counts_sql(filters: DensityFilters, area: int) -> tuple[str, list]:
    """SQL answering (cell, dossiers) for an area (H3 resolution or commune
    map), cells without dossiers left out: whole months from DensityCount
    where the filters are pre-counted (the ended quarters from
    DensityQuarterCount once summed, for the day-row filters); the other
    days (added, or taken from a whole month) from DensityDayCount where they
    are counted per day (no status filter), else from the dossiers."""
    column = AREAS[area][0]
    precounted = _precounted_key(filters, area)
    today = timezone.localdate()
    if precounted is None:
        months, day_ranges = None, [(filters.date_from, filters.date_to + dt.timedelta(days=1), 1)]
    else:
        months, day_ranges = _period_split(filters, today)
    parts, params = [], []

    def precounted_rows(table: str, condition: str, values: list, sign: str = "") -> None:
        """The rows of a density count table for the area and the precounted filter, where `condition`."""
        dimension, keys = precounted
        parts.append(
            f"SELECT c.cell, {sign}c.dossiers AS n FROM dossiers_{table} c WHERE c.area = %s AND c.dimension = %s "
            f"AND c.key = ANY(%s::bigint[]) AND {condition}"
        )
        params.extend([area, dimension, keys, *values])

    if months is not None:
        quarters = _whole_quarters(months, today) if precounted[0] in DAY_DIMENSIONS else None
        if quarters is None:
            precounted_rows("densitycount", "c.month >= %s AND c.month < %s", [*months])
        else:
            # The ended quarters from their sums once summed; every other month of the period from its row
            # (both lists are worked out once, before the indexes are read).
            precounted_rows(
                "densityquartercount",
                "c.quarter = ANY(ARRAY(SELECT quarter FROM dossiers_densityquartersummed "
                "WHERE quarter >= %s AND quarter < %s))",
                [*quarters],
            )
            precounted_rows(
                "densitycount",
                "c.month = ANY(ARRAY(SELECT m::date FROM generate_series(%s::date, %s::date - 1, interval '1 month') "
                "AS m WHERE NOT (m >= %s::date AND m < %s::date AND date_trunc('quarter', m)::date IN "
                "(SELECT quarter FROM dossiers_densityquartersummed))))",
                [*months, *quarters],
            )
    for day_from, day_end, sign in day_ranges:
        n = "" if sign > 0 else "-"
        if precounted is not None and precounted[0] in DAY_DIMENSIONS:
            precounted_rows("densitydaycount", "c.day >= %s AND c.day < %s", [day_from, day_end], n)
            continue
        where, where_params = _where(filters, day_from, day_end)
        parts.append(
            f"SELECT d.{column} AS cell, {n}count(*) AS n FROM dossiers_dossier d "
            f"WHERE {where} AND d.{column} IS NOT NULL GROUP BY 1"
        )
        params += where_params
    union = " UNION ALL ".join(parts)
    return f"SELECT cell, sum(n)::bigint AS n FROM ({union}) AS counted GROUP BY cell HAVING sum(n) > 0", params


def density_h3_counts(*, filters: DensityFilters, res: int) -> dict[int, int]:
    """{H3 cell (int): number of dossiers} for one resolution."""
    if res not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}")
    sql, params = density_counts_sql(filters, res)
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def cell_polygon(cell: int) -> list[list[float]]:
    """Closed GeoJSON ring of a cell, in lon/lat order."""
    ring = [[round(lon, 7), round(lat, 7)] for lat, lon in h3.cell_to_boundary(cell)]
    return [*ring, ring[0]]


@functools.lru_cache(maxsize=50_000)
def _cell_feature_head(cell: int) -> str:
    """A cell's GeoJSON Feature as JSON text, up to the value of its count
    (kept: the outline of a cell never changes, and building it costs more
    than counting)."""
    name = h3.int_to_str(cell)
    geometry = json.dumps({"type": "Polygon", "coordinates": [cell_polygon(cell)]}, separators=(",", ":"))
    return f'{{"type":"Feature","id":"{name}","geometry":{geometry},"properties":{{"cell":"{name}","count":'


def density_h3_geojson_text(*, filters: DensityFilters, res: int) -> str:
    """The H3 counts as a GeoJSON FeatureCollection (JSON text), cells in id
    order, with the legend's class breaks (`with_classes`)."""
    counts = sorted(density_h3_counts(filters=filters, res=res).items())
    features = ",".join(f"{_cell_feature_head(cell)}{count}}}}}" for cell, count in counts)
    classes = json.dumps({"method": "quantile", "breaks": quantile_breaks([count for _, count in counts])})
    return f'{{"type":"FeatureCollection","features":[{features}],"classes":{classes}}}'


def density_commune_counts(*, filters: DensityFilters, era: str) -> list[dict]:
    """Every commune of the era with its count of dossiers (0 included),
    population and rate per 1,000 inhabitants (None when the population is
    unknown), and its outline as GeoJSON text."""
    areas = {Era.POST_2025: COMMUNES_2025, Era.PRE_2025: COMMUNES_2019}
    if era not in areas:
        raise ValueError("unknown era")
    counts_sql, params = density_counts_sql(filters, areas[era])
    sql = f"""
        WITH counts AS ({counts_sql})
        SELECT u.code, u.name, u.population, coalesce(c.n, 0),
               ST_AsGeoJSON(coalesce(u.geom_simplified, u.geom), 6)
        FROM layers_administrativeunit u LEFT JOIN counts c ON c.cell = u.id
        WHERE u.era = %s AND u.level = 'commune'
        ORDER BY u.code"""
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*params, era])
        rows = cursor.fetchall()
    return [
        {
            "code": code,
            "name": name,
            "count": count,
            "population": population,
            "rate_per_1000": round(count * 1000 / population, 3) if population else None,
            "geometry": geometry,
        }
        for code, name, population, count, geometry in rows
    ]


def density_commune_geojson(*, filters: DensityFilters, era: str) -> dict:
    rows = density_commune_counts(filters=filters, era=era)
    features = []
    for row in rows:
        geometry = row.pop("geometry")
        features.append(
            {
                "type": "Feature",
                "id": row["code"],
                "geometry": None if geometry is None else json.loads(geometry),
                "properties": row,
            }
        )
    return with_classes({"type": "FeatureCollection", "features": features})


def quantile_breaks(counts: list[int], *, classes: int = 5) -> list[int]:
    """Upper bounds of up to `classes` quantile classes of the counts (equal
    numbers of areas per class; repeated bounds merged), the last being the
    maximum. Empty for no counts."""
    if not counts:
        return []
    values = np.sort(np.asarray(counts, dtype=np.int64))
    n = len(values)
    # The i-th bound is the value below which i/classes of the areas lie
    # (integer arithmetic: no float rounding at exact fractions).
    positions = [-(-i * n // classes) - 1 for i in range(1, classes + 1)]
    return sorted({int(values[p]) for p in positions})


def with_classes(collection: dict) -> dict:
    """The FeatureCollection with its legend: quantile class bounds of the
    counts (a foreign member, ignored by GeoJSON readers that do not know it)."""
    counts = [f["properties"]["count"] for f in collection["features"]]
    collection["classes"] = {"method": "quantile", "breaks": quantile_breaks(counts)}
    return collection


# --- vector tiles --------------------------------------------------------------------------------

_TILE_SQL = """
SELECT ST_AsMVT(t, %(layer)s, %(extent)s, 'geom') FROM (
    SELECT c.cell, c.count,
           ST_AsMVTGeom(ST_Transform(ST_GeomFromWKB(c.wkb, 4326), 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                        %(extent)s, 64, true) AS geom
    FROM unnest(%(cells)s::text[], %(counts)s::int[], %(wkbs)s::bytea[]) AS c(cell, count, wkb)
) t WHERE t.geom IS NOT NULL"""


def tile_lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of an XYZ tile in degrees."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


@functools.lru_cache(maxsize=50_000)
def _cell_wkb(cell: int) -> bytes:
    """A cell's outline as WKB, lon/lat (kept, like `_cell_feature_head`)."""
    return shapely.to_wkb(shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(cell)]))


def density_tile(*, filters: DensityFilters, res: int, z: int, x: int, y: int) -> bytes:
    """Mapbox vector tile (layer "density", properties cell and count) of the
    H3 counts: the same aggregation as the GeoJSON answer. Counting is the
    same GROUP BY; the cells near the tile get their outlines from h3 here,
    and PostGIS clips, quantises and encodes them (ST_AsMVT)."""
    counts = density_h3_counts(filters=filters, res=res)
    west, south, east, north = tile_lonlat_bounds(z, x, y)
    # A cell whose centre lies further than two edges from the tile cannot touch it.
    margin = 2 * h3.average_hexagon_edge_length(res, unit="km") / 111.0
    near = []
    for cell, count in counts.items():
        lat, lon = h3.cell_to_latlng(cell)
        lon_margin = margin / max(math.cos(math.radians(lat)), 0.1)
        if west - lon_margin <= lon <= east + lon_margin and south - margin <= lat <= north + margin:
            near.append((cell, count))
    if not near:
        return b""
    with read_connection().cursor() as cursor:
        cursor.execute(
            _TILE_SQL,
            {
                "layer": TILE_LAYER,
                "extent": TILE_EXTENT,
                "z": z,
                "x": x,
                "y": y,
                "cells": [h3.int_to_str(cell) for cell, _ in near],
                "counts": [count for _, count in near],
                "wkbs": [_cell_wkb(cell) for cell, _ in near],
            },
        )
        data = cursor.fetchone()[0]
    return bytes(data) if data else b""
