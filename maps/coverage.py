"""Coverage of communes by service points, nearest-facility catchments and a
greedy suggestion of where one more service point would help most.

Reads only. Everything is computed in PostGIS, in EPSG:3405 (VN-2000 / UTM
zone 48N, metres): a circle of radius R there is R metres on the ground to
well under 0.1 % in Bắc Ninh, and Voronoi cells there are true nearest-facility
areas (in lon/lat degrees they are not). Areas reported in m² are geodesic
(ST_Area on geography); shares are ratios of those areas."""

import datetime as dt
import json
import math

from django.core.cache import cache
from django.db import connection

from layers.models import ServicePointKind
from layers.selectors import communes_outline_wkb

METRIC_SRID = 3405
# Segments per quarter circle; 16 is also shapely's default, and the 64-gon
# misses 0.16 % of the circle's area.
BUFFER_QUAD_SEGS = 16
ERA_2025_START = dt.date(2025, 7, 1)
KINDS = (*ServicePointKind.values, "any")
RADIUS_MIN_M = 50
RADIUS_MAX_M = 50_000
SUGGEST_MAX = 5
WORST_COUNT = 10

METHOD = (
    "Population is spread uniformly over each commune's area: covered population = population × (area of the "
    "commune within radius_m of an active service point of the kind) / (commune area). Buffers are circles of "
    f"radius_m built in EPSG:{METRIC_SRID} (VN-2000 / UTM 48N, {BUFFER_QUAD_SEGS} segments per quarter circle), "
    "unioned and intersected with the commune polygons; the share is the ratio of the areas in that projection "
    "(its scale varies by under 0.001 % across a commune, so the ratio equals the geodesic one), and area_m2 is "
    "geodesic (PostGIS ST_Area on geography). "
    "Communes with unknown population get nulls and are left out of the totals."
)
CATCHMENT_METHOD = (
    f"Voronoi polygons (ST_VoronoiPolygons) of the active service points of the kind, computed in EPSG:{METRIC_SRID} "
    "(VN-2000 / UTM 48N, metres, so each cell is the nearest-facility area on the ground; in lon/lat degrees it "
    "would not be) and clipped to the union of the era's commune polygons, so that together the cells hold exactly "
    "the province's area, population and located dossiers. population: sum over the communes with known "
    "population of population × (area of the commune inside the cell) / (commune area). dossiers: dossiers whose "
    "location lies inside the cell, each counted once (one on a shared edge goes to the first cell by code)."
)


def era_for(on: dt.date) -> str:
    """The map in force on that day: the 2025 communes from 1 July 2025."""
    return "2025" if on >= ERA_2025_START else "2019"


# The points that count: active ones of the kind, plus hypothetical extra
# sites (for the suggestion and its check).
_POINTS_SQL = """
    SELECT geom FROM layers_servicepoint
     WHERE is_active AND (%(kind)s = 'any' OR kind = %(kind)s)
    UNION ALL
    SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326)
      FROM unnest(%(lons)s::float8[], %(lats)s::float8[]) AS extra(lon, lat)
"""

# ST_ClipByBox2D cuts the province-wide union down to the commune's box before
# the exact intersection: the same result, about ten times faster. It answers
# NULL on some inputs (a box over the 2019 province outline with its 265 holes
# did), so the whole union stands in then.
_COVER_NEAR = "COALESCE(ST_ClipByBox2D(cover.g, {unit}::box2d), cover.g)"

_COVERAGE_SQL = f"""
WITH pts AS ({_POINTS_SQL}),
cover AS MATERIALIZED (
    SELECT ST_Union(ST_Buffer(ST_Transform(geom, {METRIC_SRID}), %(radius)s, {BUFFER_QUAD_SEGS})) AS g FROM pts
),
c AS MATERIALIZED (
    SELECT code, name, population, ST_Transform(geom, {METRIC_SRID}) AS g,
           CASE WHEN %(geodesic)s THEN ST_Area(geom::geography) END AS area_m2,
           CASE WHEN %(with_geometry)s THEN ST_AsGeoJSON(COALESCE(geom_simplified, geom), 6) END AS geojson
      FROM layers_administrativeunit
     WHERE level = 'commune' AND era = %(era)s
)
SELECT c.code, c.name, c.population, COALESCE(c.area_m2, ST_Area(c.g)) AS area_m2,
       CASE WHEN cover.g IS NULL OR NOT ST_Intersects(c.g, cover.g) THEN 0.0
            ELSE ST_Area(ST_Intersection(c.g, {_COVER_NEAR.format(unit="c.g")})) / NULLIF(ST_Area(c.g), 0)
       END AS share,
       c.geojson
  FROM c CROSS JOIN cover
 ORDER BY c.code
"""


def _params(*, kind: str, radius_m: float, era: str, extra_sites: list[tuple[float, float]]) -> dict:
    return {
        "kind": kind,
        "radius": float(radius_m),
        "era": era,
        "lons": [lon for lon, _ in extra_sites],
        "lats": [lat for _, lat in extra_sites],
    }


def _rows(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def coverage_by_commune(
    *,
    kind: str,
    radius_m: float,
    era: str,
    extra_sites: list[tuple[float, float]] | None = None,
    with_geometry: bool = False,
    geodesic_area: bool = True,
) -> dict:
    """Per-commune coverage and the province summary. One query.

    geodesic_area=False reports area_m2 in EPSG:3405 instead (0.03 % off
    here, and saves the geodesic area of every commune, about half the time
    on the detailed 2025 polygons); shares are the same either way."""
    params = _params(kind=kind, radius_m=radius_m, era=era, extra_sites=extra_sites or [])
    rows = _rows(_COVERAGE_SQL, {**params, "with_geometry": with_geometry, "geodesic": geodesic_area})
    communes = []
    for row in rows:
        area = row["area_m2"] or 0.0
        # The intersection can exceed the commune by rounding; a share is at most 1.
        share = min(1.0, row["share"] or 0.0)
        population = row["population"]
        covered = population * share if population is not None else None
        commune = {
            "code": row["code"],
            "name": row["name"],
            "population": population,
            "area_m2": round(area, 1),
            "covered_area_m2": round(share * area, 1),
            "share": round(share, 6),
            "covered_population": round(covered, 1) if covered is not None else None,
            "uncovered_population": round(population - covered, 1) if covered is not None else None,
        }
        if with_geometry:
            commune["geometry"] = json.loads(row["geojson"]) if row["geojson"] else None
        communes.append(commune)
    known = [c for c in communes if c["population"] is not None]
    total = sum(c["population"] for c in known)
    covered = sum(c["covered_population"] for c in known)
    worst = sorted(
        communes,
        key=lambda c: (c["share"], -(c["uncovered_population"] or 0.0), c["code"]),
    )[:WORST_COUNT]
    return {
        "communes": communes,
        "summary": {
            "population": total,
            "covered_population": round(covered, 1),
            "uncovered_population": round(total - covered, 1),
            "share": round(covered / total, 6) if total else None,
            "communes": len(communes),
            "communes_with_population": len(known),
            "communes_without_population": [c["code"] for c in communes if c["population"] is None],
            "note": "Communes with unknown population are listed with null population figures and are not "
            "counted in these totals.",
        },
        "worst": [{k: v for k, v in c.items() if k != "geometry"} for c in worst],
    }


# Candidate sites for the suggestion: the points of a square grid in
# EPSG:3405 (at whole multiples of the spacing) inside the communes with known
# population, plus the centroid of each such commune's still-uncovered part.
# The communes' representative points cannot be the candidates: the demo desks
# stand exactly there, so every one of them gains nothing.
SUGGEST_GRID_MIN_M = 1000
SUGGEST_GRID_RADIUS_FRACTION = 4


def suggest_grid_spacing_m(radius_m: float) -> float:
    """1 km, or a quarter of the radius when that is larger: the gain of a
    site changes little over a fraction of its radius, and the number of
    candidates (the cost) grows with the inverse square of the spacing."""
    return max(float(SUGGEST_GRID_MIN_M), radius_m / SUGGEST_GRID_RADIUS_FRACTION)


def suggest_method(radius_m: float) -> str:
    spacing = suggest_grid_spacing_m(radius_m)
    return (
        f"Greedy: candidate sites are the points of a {spacing:g} m square grid in EPSG:{METRIC_SRID} (at whole "
        f"multiples of {spacing:g} m; the spacing is {SUGGEST_GRID_MIN_M} m or radius_m / "
        f"{SUGGEST_GRID_RADIUS_FRACTION}, whichever is larger) that lie inside a commune with known population, plus "
        "the centroid of each such commune's still-uncovered part. Each step adds the candidate whose buffer covers "
        "the most still-uncovered population (population spread uniformly over each commune, the buffer's area "
        "measured exactly on the polygons). gain_population is measured by recomputing the coverage with the site "
        "added. " + METHOD
    )


# The population in the part of each candidate's buffer not covered yet; the
# best candidate, with the commune of the era it lies in.
_SUGGEST_SQL = f"""
WITH pts AS ({_POINTS_SQL}),
cover AS MATERIALIZED (
    SELECT ST_Union(ST_Buffer(ST_Transform(geom, {METRIC_SRID}), %(radius)s, {BUFFER_QUAD_SEGS})) AS g FROM pts
),
units AS MATERIALIZED (
    SELECT code, name, population, ST_Transform(geom, {METRIC_SRID}) AS g
      FROM layers_administrativeunit
     WHERE level = 'commune' AND era = %(era)s
),
uncovered AS MATERIALIZED (
    SELECT u.population / NULLIF(ST_Area(u.g), 0) AS density,
           CASE WHEN cover.g IS NULL OR NOT ST_Intersects(u.g, cover.g) THEN u.g
                ELSE ST_Difference(u.g, {_COVER_NEAR.format(unit="u.g")}) END AS g
      FROM units u CROSS JOIN cover
     WHERE u.population > 0
),
piece AS MATERIALIZED (
    -- Small pieces: a buffer meets only the few near it.
    SELECT density, g, ST_Area(g) AS area
      FROM (SELECT density, ST_Subdivide(g, 256) AS g FROM uncovered WHERE NOT ST_IsEmpty(g)) AS s
),
grid AS MATERIALIZED (
    -- Commune by commune: the same polygon in consecutive point tests is
    -- prepared once (a point on a shared border comes once, by DISTINCT).
    SELECT DISTINCT ST_SetSRID(ST_MakePoint(i * %(spacing)s::float8, j * %(spacing)s::float8), {METRIC_SRID}) AS p
      FROM units u
     CROSS JOIN generate_series(ceil(ST_XMin(u.g) / %(spacing)s)::int, floor(ST_XMax(u.g) / %(spacing)s)::int) AS i
     CROSS JOIN generate_series(ceil(ST_YMin(u.g) / %(spacing)s)::int, floor(ST_YMax(u.g) / %(spacing)s)::int) AS j
     WHERE u.population > 0
       AND ST_Intersects(u.g, ST_SetSRID(ST_MakePoint(i * %(spacing)s::float8, j * %(spacing)s::float8), {METRIC_SRID}))
),
candidate AS MATERIALIZED (
    SELECT row_number() OVER (ORDER BY source, ST_X(p), ST_Y(p)) AS id, source, p,
           ST_Buffer(p, %(radius)s, {BUFFER_QUAD_SEGS}) AS b
      FROM (SELECT 'grid' AS source, p FROM grid
            UNION ALL
            SELECT 'uncovered_centroid', centroid
              FROM (SELECT ST_Centroid(g) AS centroid FROM uncovered WHERE NOT ST_IsEmpty(g)) AS c
             WHERE EXISTS (SELECT 1 FROM units WHERE ST_Intersects(units.g, c.centroid))
           ) AS s
),
best AS (
    -- A piece within the buffer's inscribed circle counts whole, without
    -- an intersection: the same area, much cheaper for large radii.
    SELECT cand.id, cand.source, cand.p,
           SUM(u.density * CASE WHEN ST_DFullyWithin(cand.p, u.g, %(inscribed)s) THEN u.area
                                ELSE ST_Area(ST_Intersection(u.g, cand.b)) END) AS gain
      FROM candidate cand JOIN piece u ON ST_DWithin(u.g, cand.p, %(radius)s)
     GROUP BY cand.id, cand.source, cand.p
     ORDER BY gain DESC, cand.id
     LIMIT 1
)
SELECT unit.code, unit.name, best.source, ST_X(ll.p) AS lon, ST_Y(ll.p) AS lat, best.gain
  FROM best
 CROSS JOIN LATERAL (SELECT ST_Transform(best.p, 4326) AS p) AS ll
  LEFT JOIN LATERAL (SELECT code, name FROM units WHERE ST_Intersects(units.g, best.p) ORDER BY code LIMIT 1) AS unit
    ON true
"""


SUGGEST_CACHE_SECONDS = 24 * 3600


def _suggest_fingerprint(*, era: str) -> str:
    """What a suggestion depends on: the service points (kind, state, place)
    and the era's communes (population, outline). Any edit changes it."""
    return _rows(
        """SELECT md5(
               (SELECT COALESCE(string_agg(id::text || ':' || kind || ':' || is_active::text || ':'
                                           || md5(ST_AsEWKB(geom)), ',' ORDER BY id), '')
                  FROM layers_servicepoint)
               || '|' ||
               (SELECT COALESCE(string_agg(id::text || ':' || COALESCE(population::text, '-') || ':'
                                           || md5(ST_AsEWKB(geom)), ',' ORDER BY id), '')
                  FROM layers_administrativeunit WHERE level = 'commune' AND era = %(era)s)
           ) AS fingerprint""",
        {"era": era},
    )[0]["fingerprint"]


def coverage_suggest(*, kind: str, radius_m: float, era: str, count: int) -> dict:
    """Greedy: each step adds the candidate site (see `suggest_method`) whose
    buffer holds the most still-uncovered population. The reported gain is
    measured by recomputing the coverage with the site added, so it is
    exactly what the coverage API would show. 1 + 2 × count queries, a
    second or more each: a public endpoint, so the answer is cached under a
    fingerprint of the data it depends on (one query of about 10 ms)."""
    key = f"coverage:suggest:{kind}:{float(radius_m)}:{era}:{count}:{_suggest_fingerprint(era=era)}"
    answer = cache.get(key)
    if answer is None:
        answer = _coverage_suggest(kind=kind, radius_m=radius_m, era=era, count=count)
        cache.set(key, answer, SUGGEST_CACHE_SECONDS)
    return answer


def _coverage_suggest(*, kind: str, radius_m: float, era: str, count: int) -> dict:
    spacing = suggest_grid_spacing_m(radius_m)
    sites: list[tuple[float, float]] = []
    # Only the covered population is read here, which the planar areas give
    # exactly: the geodesic ones would double the time of each measurement.
    measure = {"kind": kind, "radius_m": radius_m, "era": era, "geodesic_area": False}
    before = coverage_by_commune(**measure)["summary"]["covered_population"]
    steps = []
    for step in range(1, count + 1):
        params = {
            **_params(kind=kind, radius_m=radius_m, era=era, extra_sites=sites),
            "spacing": spacing,
            "inscribed": radius_m * math.cos(math.pi / (4 * BUFFER_QUAD_SEGS)),
        }
        rows = _rows(_SUGGEST_SQL, params)
        if not rows:
            break
        best = rows[0]
        sites.append((best["lon"], best["lat"]))
        after = coverage_by_commune(**measure, extra_sites=sites)["summary"]
        steps.append(
            {
                "step": step,
                "site": {
                    "lon": best["lon"],
                    "lat": best["lat"],
                    "commune": {"code": best["code"], "name": best["name"]},
                    "candidate": best["source"],
                },
                "gain_population": round(after["covered_population"] - before, 1),
                "estimated_gain_population": round(best["gain"], 1),
                "covered_before": before,
                "covered_after": after["covered_population"],
                "share_after": after["share"],
            }
        )
        before = after["covered_population"]
    return {"grid_spacing_m": spacing, "suggestions": steps}


_CATCHMENTS_SQL = f"""
WITH pts AS MATERIALIZED (
    SELECT code, name, ST_Transform(geom, {METRIC_SRID}) AS g FROM layers_servicepoint
     WHERE is_active AND (%(kind)s = 'any' OR kind = %(kind)s)
),
outline AS MATERIALIZED (
    -- The union of the era's communes, in lon/lat as stored: its edges are
    -- the communes' own, so "inside a catchment" is "inside a commune".
    SELECT ST_GeomFromEWKB(%(outline)s) AS g
),
frame AS MATERIALIZED (
    -- Voronoi cells must reach past the province and every point.
    SELECT ST_Expand(ST_Envelope(ST_Collect(ST_Transform(outline.g, {METRIC_SRID}), (SELECT ST_Collect(g) FROM pts))),
                     10000) AS g
      FROM outline
),
cells AS MATERIALIZED (
    -- Each point's Voronoi cell, brought back to lon/lat: neighbouring cells
    -- share their vertices, so they still tile the plane.
    SELECT pts.code, pts.name, v.g AS mg, ST_Transform(v.g, 4326) AS g
      FROM (SELECT (ST_Dump(CASE WHEN (SELECT count(*) FROM pts) > 1
                                 THEN ST_VoronoiPolygons((SELECT ST_Collect(g) FROM pts), 0, frame.g)
                                 ELSE frame.g END)).geom AS g
              FROM frame) AS v
      JOIN pts ON ST_Intersects(v.g, pts.g)
),
outline_pieces AS MATERIALIZED (
    SELECT ST_Subdivide(g, 256) AS g FROM outline
),
cut AS MATERIALIZED (
    -- Cut piece by piece: the whole outline in one overlay costs twice as
    -- much, and ST_ClipByBox2D lost whole cells of the 2019 outline (NULL).
    -- The pieces (at most 256 vertices) also serve the dossier count, which
    -- walks the location index once per piece.
    SELECT cells.code, ST_Intersection(cells.g, op.g) AS g
      FROM cells JOIN outline_pieces op ON ST_Intersects(cells.g, op.g)
),
catchment AS MATERIALIZED (
    SELECT cells.code, cells.name, cells.mg, COALESCE(ST_Union(cut.g), ST_GeomFromText('POLYGON EMPTY', 4326)) AS g
      FROM cells LEFT JOIN cut ON cut.code = cells.code
     GROUP BY cells.code, cells.name, cells.mg
),
counts AS MATERIALIZED (
    -- Each dossier once: one on the edge of two pieces or two catchments
    -- goes to the first catchment by code.
    SELECT code, count(*) AS dossiers FROM (
        SELECT DISTINCT ON (d.id) d.id, cut.code
          FROM cut JOIN dossiers_dossier d ON ST_Intersects(d.location, cut.g)
         WHERE (%(date_from)s::date IS NULL OR d.received_at >= %(date_from)s::date)
           AND (%(date_to)s::date IS NULL OR d.received_at < %(date_to)s::date + 1)
         ORDER BY d.id, cut.code
    ) AS located
     GROUP BY code
),
communes AS MATERIALIZED (
    SELECT population, ST_Area(ST_Transform(geom, {METRIC_SRID})) AS area, ST_Transform(geom, {METRIC_SRID}) AS g
      FROM layers_administrativeunit
     WHERE level = 'commune' AND era = %(era)s AND population IS NOT NULL
)
-- A commune lies inside the outline, so its part in the catchment is its
-- part in the (simpler) Voronoi cell.
SELECT k.code, k.name, ST_AsGeoJSON(k.g, 6) AS geojson,
       ST_Area(k.g::geography) AS area_m2,
       (SELECT COALESCE(SUM(cm.population * ST_Area(ST_Intersection(cm.g, k.mg)) / NULLIF(cm.area, 0)), 0)
          FROM communes cm WHERE ST_Intersects(cm.g, k.mg)) AS population,
       COALESCE(counts.dossiers, 0) AS dossiers
  FROM catchment k LEFT JOIN counts ON counts.code = k.code
 ORDER BY k.code
"""


def catchments(*, kind: str, era: str, date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict:
    """GeoJSON FeatureCollection: one nearest-facility polygon per active
    service point of the kind, clipped to the union of the era's communes.
    Two queries (the union is cached under a fingerprint of the communes)."""
    outline = communes_outline_wkb(era=era)
    if outline is None:
        return {"type": "FeatureCollection", "features": []}
    rows = _rows(
        _CATCHMENTS_SQL, {"kind": kind, "era": era, "outline": outline, "date_from": date_from, "date_to": date_to}
    )
    features = [
        {
            "type": "Feature",
            "id": row["code"],
            "geometry": json.loads(row["geojson"]) if row["geojson"] else None,
            "properties": {
                "code": row["code"],
                "name": row["name"],
                "area_m2": round(row["area_m2"] or 0.0, 1),
                "population": round(row["population"] or 0.0, 1),
                "dossiers": row["dossiers"],
            },
        }
        for row in rows
    ]
    return {"type": "FeatureCollection", "features": features}
