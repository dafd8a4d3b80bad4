"""Reads of the spatial foundation: units in force, containment, nearest."""

import datetime as dt
import math
from collections.abc import Collection
from dataclasses import dataclass

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.contrib.gis.geos import Point, Polygon
from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from gisportal.prepared import prepared_cursor

from .models import AdministrativeUnit, ServicePoint, ServicePointKind

# Metres per degree of latitude at the equator, the smallest it gets; a degree
# of longitude is at least this times cos(latitude).
_MIN_METRES_PER_DEGREE = 110_574.0


def units_valid_on(on: dt.date | None = None) -> QuerySet[AdministrativeUnit]:
    on = on or timezone.localdate()
    return AdministrativeUnit.objects.filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=on),
        Q(valid_to__isnull=True) | Q(valid_to__gte=on),
    )


def unit_list(
    *,
    on: dt.date | None = None,
    level: str | None = None,
    era: str | None = None,
    contains: tuple[float, float] | None = None,
    simplified: bool = False,
) -> QuerySet[AdministrativeUnit]:
    units = AdministrativeUnit.objects.all() if era and on is None else units_valid_on(on)
    if era:
        units = units.filter(era=era)
    if level:
        units = units.filter(level=level)
    if contains:
        units = units.filter(geom__intersects=Point(*contains, srid=4326))
    field = "geom_simplified" if simplified else "geom"
    return (
        units.select_related("parent")
        .annotate(geojson=AsGeoJSON(field, precision=6))
        # The parent is there for its code: its outline (a whole province's
        # for a commune) fetched and parsed once a row cost 50 ms a page.
        .defer("geom", "geom_simplified", "parent__geom", "parent__geom_simplified")
        .order_by("level", "code")
    )


def units_version() -> int | None:
    """The units' version (migration 0007): moved by every statement that
    changes the units table, never reused. None if the row is missing."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM layers_unitsversion WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else None


# A day: the key changes with any edit of the communes anyway.
_OUTLINE_CACHE_SECONDS = 24 * 3600


def communes_outline_wkb(*, era: str) -> bytes | None:
    """The union of the era's communes (EWKB, EPSG:4326): the area the
    analyses cover, which the province row's own outline does not match on
    the 2025 map (40 km² of communes lie outside it, 36 km² of it in no
    commune). The union takes about 0.3 s on the 2025 polygons, so it is
    cached under a fingerprint of the communes' ids and geometries (a 5 ms
    query), which any edit of a commune changes. None without communes."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT md5(string_agg(id::text || ':' || md5(ST_AsEWKB(geom)), ',' ORDER BY id))
               FROM layers_administrativeunit WHERE level = 'commune' AND era = %s""",
            [era],
        )
        fingerprint = cursor.fetchone()[0]
        if fingerprint is None:
            return None
        key = f"units:communes-outline:{era}:{fingerprint}"
        outline = cache.get(key)
        if outline is None:
            cursor.execute(
                """SELECT ST_AsEWKB(ST_Multi(ST_Union(geom)))
                   FROM layers_administrativeunit WHERE level = 'commune' AND era = %s""",
                [era],
            )
            outline = bytes(cursor.fetchone()[0])
            cache.set(key, outline, _OUTLINE_CACHE_SECONDS)
    return outline


@dataclass(frozen=True)
class UnitMatch:
    code: str
    name: str
    full_name: str
    era: str
    score: float
    lon: float  # a point inside the unit (PostGIS point on surface)
    lat: float


# Text of an address folded as the search compares it: lower case, no
# diacritics (unaccent turns đ into d), every run of other characters one
# space, padded so that whole words can be found with position().
_FOLD_SQL = "' ' || regexp_replace(lower(unaccent({})), '[^a-z0-9]+', ' ', 'g') || ' '"
_MATCH_SQL = f"""
SELECT m.code, m.name, m.full_name, m.era, m.score, ST_X(s.p), ST_Y(s.p)
FROM (
    SELECT u.id, u.code, u.name, u.full_name, u.era,
           (CASE WHEN position(f.full_name IN q.address) > 0 THEN 3 ELSE 0 END
            + CASE WHEN position(f.name IN q.address) > 0 THEN 2 ELSE 0 END
            + word_similarity(trim(f.name), q.address)) AS score
    FROM layers_administrativeunit u
    CROSS JOIN (SELECT {_FOLD_SQL.format("%(address)s")} AS address) q
    CROSS JOIN LATERAL (SELECT {_FOLD_SQL.format("u.name")} AS name,
                               {_FOLD_SQL.format("u.full_name")} AS full_name) f
    WHERE u.level = %(level)s
      AND (u.valid_from IS NULL OR u.valid_from <= %(on)s) AND (u.valid_to IS NULL OR u.valid_to >= %(on)s)
    ORDER BY score DESC, length(u.name) DESC, u.code
    LIMIT %(limit)s
) m
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(geom) AS p FROM layers_administrativeunit WHERE id = m.id) s
WHERE m.score >= %(threshold)s
ORDER BY m.score DESC, length(m.name) DESC, m.code
"""
# A name found word for word scores at least 2; below this, a fuzzy match
# (pg_trgm word similarity) must be close: "kinh bacc" still finds Kinh Bắc.
MATCH_THRESHOLD = 0.6


def units_matching_address(
    *, address: str, on: dt.date | None = None, level: str = "commune", limit: int = 5
) -> list[UnitMatch]:
    """The units in force on `on` whose name appears in a free-text address,
    typed with or without diacritics, best first: the full name word for word
    ("phuong kinh bac") before the name alone ("kinh bac"), then names
    that are nearly in it (trigram word similarity, for typing slips)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _MATCH_SQL,
            {
                "address": address,
                "on": on or timezone.localdate(),
                "level": level,
                "limit": limit,
                "threshold": MATCH_THRESHOLD,
            },
        )
        return [UnitMatch(*row) for row in cursor.fetchall()]


def unit_get(*, code: str, on: dt.date | None = None, era: str | None = None) -> AdministrativeUnit | None:
    """The unit with this code: the one in force on `on` (default today), else
    the most recent one, since a code can be reused by a later era."""
    candidates = AdministrativeUnit.objects.filter(code=code).select_related("parent")
    if era:
        candidates = candidates.filter(era=era)
    in_force = units_valid_on(on).filter(pk__in=candidates.values("pk")).select_related("parent").first()
    if in_force or on is not None:
        return in_force
    return candidates.order_by("-era").first()


def service_point_list(*, kind: str | None, bbox: tuple[float, float, float, float] | None) -> QuerySet[ServicePoint]:
    points = ServicePoint.objects.filter(is_active=True).select_related("admin_unit")
    if kind:
        points = points.filter(kind=kind)
    if bbox:
        points = points.filter(geom__intersects=Polygon.from_bbox(bbox))
    return points.order_by("id")


@dataclass(frozen=True)
class NearestPoint:
    id: int
    code: str
    kind: str
    name: str
    address: str
    opening_hours: str
    counters: int
    admin_unit_code: str | None
    phone: str
    is_demo: bool
    lon: float
    lat: float
    distance_m: float


# The unit's code is kept on the point (migration 0009): a look-up in the units table for each
# candidate made the statement a tenth slower, mostly for bringing a second table into it.
_NEAREST_SQL = """
SELECT c.id, c.code, c.kind, c.name, c.address, c.opening_hours, c.counters, c.admin_unit_code,
       ST_X(c.geom), ST_Y(c.geom), c.d_deg,
       ST_Distance(c.geom::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography, true),
       c.phone, c.is_demo
FROM (
    SELECT id, code, kind, name, address, opening_hours, counters, admin_unit_code, geom, phone, is_demo,
           geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS d_deg
    FROM layers_servicepoint
    WHERE is_active {kind_filter}
    ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
    LIMIT %(k)s
    OFFSET 0
) c
"""


def _metres_lower_bound(*, lat: float, degrees: float) -> float:
    """No point farther than `degrees` (planar, lon/lat) from the query can be
    closer than this many metres; 1% and one degree of slack cover the
    poleward bulge of geodesics."""
    highest = min(abs(lat) + degrees + 1.0, 90.0)
    return 0.99 * _MIN_METRES_PER_DEGREE * math.cos(math.radians(highest)) * degrees


def _nearest_filter(*, kind: str | None, kinds: Collection[str] | None, desk_unit_code: str | None) -> tuple[str, dict]:
    """The WHERE additions of the nearest query, and their parameters."""
    if kinds is not None:
        kinds = sorted(set(kinds))
        if len(kinds) == 1:
            kind, kinds = kinds[0], None  # one kind: the (kind, geom) index serves it
    parts, params = [], {"kind": kind, "kinds": kinds, "desk_unit": desk_unit_code}
    if kinds is not None:
        parts.append("AND kind = ANY(%(kinds)s)")
    elif kind:
        parts.append("AND kind = %(kind)s")
    if desk_unit_code is not None:
        params["desk_kind"] = str(ServicePointKind.COMMUNE_DESK)
        parts.append(
            "AND (kind <> %(desk_kind)s OR admin_unit_id IN "
            "(SELECT u.id FROM layers_administrativeunit u WHERE u.code = %(desk_unit)s))"
        )
    return " ".join(parts), params


def service_points_nearest(
    *,
    lon: float,
    lat: float,
    kind: str | None,
    limit: int,
    kinds: Collection[str] | None = None,
    desk_unit_code: str | None = None,
) -> list[NearestPoint]:
    """The `limit` nearest active points by geodesic metres on WGS84, of
    `kind` (None: any), or of any of `kinds` when given (instead of `kind`;
    empty: none), and with `desk_unit_code` only the commune desks that sit
    in an administrative unit of that code.

    The KNN operator ranks by planar degrees, which at these latitudes is not
    the metre ranking; candidates come from the index (`<->`), are re-ranked
    by ellipsoidal distance, and the candidate set grows until no point
    outside it can beat the last one kept.
    """
    if kinds is not None and not kinds:
        return []
    kind_filter, params = _nearest_filter(kind=kind, kinds=kinds, desk_unit_code=desk_unit_code)
    sql = _NEAREST_SQL.format(kind_filter=kind_filter)
    # 10 candidates for 5: one statement for 99.8% of look-ups (bench/nearest.py), 3% faster than 12.
    k = limit + 3 + limit // 2
    with prepared_cursor(binary=True) as cursor:
        while True:
            cursor.execute(sql, {"lon": lon, "lat": lat, "k": k, **params})
            rows = cursor.fetchall()
            ranked = sorted(rows, key=lambda r: (r[11], r[0]))[:limit]
            exhausted = len(rows) < k
            if exhausted or not ranked:
                break
            farthest_seen_deg = max(r[10] for r in rows)  # row order is not guaranteed
            if len(ranked) == limit and ranked[-1][11] <= _metres_lower_bound(lat=lat, degrees=farthest_seen_deg):
                break
            k *= 4
    return [
        NearestPoint(
            id=r[0],
            code=r[1],
            kind=r[2],
            name=r[3],
            address=r[4],
            opening_hours=r[5],
            counters=r[6],
            phone=r[12],
            is_demo=r[13],
            admin_unit_code=r[7],
            lon=r[8],
            lat=r[9],
            distance_m=r[11],
        )
        for r in ranked
    ]


# --- place search (the submit map's address search) ------------------------------


@dataclass(frozen=True)
class PlaceHit:
    type: str  # "commune" or "service_point"
    code: str
    name: str
    detail: str  # the unit's full name, or the point's address
    kind: str  # the unit's level, or the point's kind
    commune_code: str | None  # the 2025 commune the place is (in)
    score: float
    lon: float  # a point inside the unit, or the service point
    lat: float
    bbox: tuple[float, float, float, float] | None  # the unit's extent; None for a point


# The typed text and the names are folded alike (_FOLD_SQL): a whole-name hit
# scores 3, a name (or full name) starting with the text 2.5, the text found inside the name
# (or a point's address) 2 (1.5), plus pg_trgm's word similarity (0-1); the same
# text with its diacritics found as typed adds 0.5 ("Bắc" above "Bác"). A hit
# by similarity alone needs PLACE_THRESHOLD.
_PLACE_SQL = f"""
WITH q AS (SELECT {_FOLD_SQL.format("%(q)s")} AS folded, lower(%(q)s) AS typed),
units AS (
    SELECT 'commune' AS type, u.code, u.name, u.full_name AS detail, u.level AS kind, u.code AS commune_code,
           (CASE WHEN f.name = q.folded OR f.full_name = q.folded THEN 3
                 WHEN position(rtrim(q.folded) IN f.name) = 1 OR position(rtrim(q.folded) IN f.full_name) = 1
                      THEN 2.5
                 WHEN position(rtrim(q.folded) IN f.full_name) > 0 THEN 2 ELSE 0 END
            + word_similarity(trim(q.folded), f.full_name)
            + CASE WHEN position(trim(q.typed) IN lower(u.full_name)) > 0 THEN 0.5 ELSE 0 END) AS score,
           u.id AS unit_id, NULL::geometry AS geom
    FROM layers_administrativeunit u
    CROSS JOIN q
    CROSS JOIN LATERAL (SELECT {_FOLD_SQL.format("u.name")} AS name, {_FOLD_SQL.format("u.full_name")} AS full_name) f
    WHERE u.level = 'commune'
      AND (u.valid_from IS NULL OR u.valid_from <= %(on)s) AND (u.valid_to IS NULL OR u.valid_to >= %(on)s)
),
points AS (
    SELECT 'service_point', p.code, p.name, p.address, p.kind, a.code,
           (CASE WHEN position(rtrim(q.folded) IN f.name) > 0 THEN 2
                 WHEN position(rtrim(q.folded) IN f.address) > 0 THEN 1.5 ELSE 0 END
            + word_similarity(trim(q.folded), f.name || f.address)
            + CASE WHEN position(trim(q.typed) IN lower(p.name || ' ' || p.address)) > 0 THEN 0.5 ELSE 0 END),
           NULL::bigint, p.geom
    FROM layers_servicepoint p
    LEFT JOIN layers_administrativeunit a ON a.id = p.admin_unit_id
    CROSS JOIN q
    CROSS JOIN LATERAL (SELECT {_FOLD_SQL.format("p.name")} AS name, {_FOLD_SQL.format("p.address")} AS address) f
    WHERE p.is_active
),
hits AS (
    SELECT * FROM (SELECT * FROM units UNION ALL SELECT * FROM points) h
    WHERE h.score >= %(threshold)s
    ORDER BY h.score DESC, h.type, length(h.name), h.code
    LIMIT %(limit)s
)
SELECT h.type, h.code, h.name, h.detail, h.kind, h.commune_code, h.score,
       ST_X(COALESCE(h.geom, s.p)), ST_Y(COALESCE(h.geom, s.p)),
       ST_XMin(s.box), ST_YMin(s.box), ST_XMax(s.box), ST_YMax(s.box)
FROM hits h
LEFT JOIN LATERAL (SELECT ST_PointOnSurface(geom) AS p, geom::box2d AS box
                   FROM layers_administrativeunit WHERE id = h.unit_id) s ON true
ORDER BY h.score DESC, h.type, length(h.name), h.code
"""
PLACE_THRESHOLD = 0.55


def places_search(*, q: str, limit: int = 8, on: dt.date | None = None) -> list[PlaceHit]:
    """Communes and wards of the map in force on `on` (default today) and
    active service points whose name (or address) matches `q`, typed with or
    without diacritics, best first. About 300 rows are scored: no index."""
    if not any(ch.isalnum() for ch in q):
        return []  # nothing to look for (and an empty folded text is in every name)
    with connection.cursor() as cursor:
        cursor.execute(
            _PLACE_SQL,
            {"q": q, "on": on or timezone.localdate(), "limit": limit, "threshold": PLACE_THRESHOLD},
        )
        rows = cursor.fetchall()
    hits = []
    for type_, code, name, detail, kind, commune, score, lon, lat, *box in rows:
        bbox = tuple(box) if box[0] is not None else None
        hits.append(PlaceHit(type_, code, name, detail or "", kind, commune, float(score), lon, lat, bbox))
    return hits
