"""Coverage of communes by service points, nearest-facility catchments and a
greedy suggestion of where one more service point would help most.

Reads only. Everything is computed in PostGIS, in EPSG:3405 (VN-2000 / UTM
zone 48N, metres): a circle of radius R there is R metres on the ground to
well under 0.1 % in Bắc Ninh, and Voronoi cells there are true nearest-facility
areas (in lon/lat degrees they are not). Areas reported in m² are geodesic
(ST_Area on geography); shares are ratios of those areas."""

import datetime as dt
import json

from django.db import connection

from layers.models import ServicePointKind

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
    "would not be) and clipped to the province outline of the era. population: sum over the communes with known "
    "population of population × (area of the commune inside the cell) / (commune area). dossiers: dossiers whose "
    "location lies inside the cell."
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
# the exact intersection: the same result, about ten times faster.
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
            ELSE ST_Area(ST_Intersection(c.g, ST_ClipByBox2D(cover.g, c.g::box2d))) / NULLIF(ST_Area(c.g), 0)
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


# For each candidate site (a representative point of a commune of the era):
# the population in the part of its buffer not covered yet.
_SUGGEST_SQL = f"""
WITH pts AS ({_POINTS_SQL}),
cover AS MATERIALIZED (
    SELECT ST_Union(ST_Buffer(ST_Transform(geom, {METRIC_SRID}), %(radius)s, {BUFFER_QUAD_SEGS})) AS g FROM pts
),
c AS MATERIALIZED (
    SELECT population::float8 / NULLIF(ST_Area(ST_Transform(geom, {METRIC_SRID})), 0) AS density,
           ST_Transform(geom, {METRIC_SRID}) AS g
      FROM layers_administrativeunit
     WHERE level = 'commune' AND era = %(era)s AND population IS NOT NULL
),
uncovered AS MATERIALIZED (
    SELECT c.density,
           CASE WHEN cover.g IS NULL OR NOT ST_Intersects(c.g, cover.g) THEN c.g
                ELSE ST_Difference(c.g, ST_ClipByBox2D(cover.g, c.g::box2d)) END AS g
      FROM c CROSS JOIN cover
),
candidate AS MATERIALIZED (
    SELECT code, name, ST_PointOnSurface(geom) AS p FROM layers_administrativeunit
     WHERE level = 'commune' AND era = %(era)s
),
site AS MATERIALIZED (
    SELECT code, name, ST_X(p) AS lon, ST_Y(p) AS lat,
           ST_Buffer(ST_Transform(p, {METRIC_SRID}), %(radius)s, {BUFFER_QUAD_SEGS}) AS b
      FROM candidate
)
SELECT site.code, site.name, site.lon, site.lat,
       COALESCE(SUM(u.density * ST_Area(ST_Intersection(u.g, site.b))), 0.0) AS gain
  FROM site LEFT JOIN uncovered u ON ST_Intersects(u.g, site.b)
 GROUP BY site.code, site.name, site.lon, site.lat
 ORDER BY gain DESC, site.code
 LIMIT 1
"""


def coverage_suggest(*, kind: str, radius_m: float, era: str, count: int) -> dict:
    """Greedy: each step adds the candidate site whose buffer holds the most
    still-uncovered population. The reported gain is measured by recomputing
    the coverage with the site added, so it is exactly what the coverage API
    would show. 1 + 2 × count queries."""
    sites: list[tuple[float, float]] = []
    before = coverage_by_commune(kind=kind, radius_m=radius_m, era=era)["summary"]["covered_population"]
    steps = []
    for step in range(1, count + 1):
        rows = _rows(_SUGGEST_SQL, _params(kind=kind, radius_m=radius_m, era=era, extra_sites=sites))
        if not rows:
            break
        best = rows[0]
        sites.append((best["lon"], best["lat"]))
        after = coverage_by_commune(kind=kind, radius_m=radius_m, era=era, extra_sites=sites)["summary"]
        steps.append(
            {
                "step": step,
                "site": {
                    "lon": best["lon"],
                    "lat": best["lat"],
                    "commune": {"code": best["code"], "name": best["name"]},
                },
                "gain_population": round(after["covered_population"] - before, 1),
                "estimated_gain_population": round(best["gain"], 1),
                "covered_before": before,
                "covered_after": after["covered_population"],
                "share_after": after["share"],
            }
        )
        before = after["covered_population"]
    return {"suggestions": steps}


_CATCHMENTS_SQL = f"""
WITH pts AS MATERIALIZED (
    SELECT code, name, ST_Transform(geom, {METRIC_SRID}) AS g FROM layers_servicepoint
     WHERE is_active AND (%(kind)s = 'any' OR kind = %(kind)s)
),
prov AS MATERIALIZED (
    SELECT ST_Transform(ST_Union(geom), {METRIC_SRID}) AS g FROM layers_administrativeunit
     WHERE level = 'province' AND era = %(era)s
),
frame AS MATERIALIZED (
    -- Voronoi cells must reach past the province and every point.
    SELECT ST_Expand(ST_Envelope(ST_Collect(prov.g, (SELECT ST_Collect(g) FROM pts))), 10000) AS g FROM prov
),
cells AS MATERIALIZED (
    SELECT (ST_Dump(CASE WHEN (SELECT count(*) FROM pts) > 1
                         THEN ST_VoronoiPolygons((SELECT ST_Collect(g) FROM pts), 0, frame.g)
                         ELSE frame.g END)).geom AS g
      FROM frame
),
catchment AS MATERIALIZED (
    SELECT pts.code, pts.name, ST_Intersection(cells.g, prov.g) AS g
      FROM pts JOIN cells ON ST_Intersects(cells.g, pts.g) CROSS JOIN prov
),
pieces AS MATERIALIZED (
    -- Small pieces in lon/lat so the dossier count walks the location index.
    SELECT code, ST_Subdivide(ST_Transform(g, 4326), 64) AS g FROM catchment
),
counts AS MATERIALIZED (
    SELECT pieces.code, count(*) AS dossiers
      FROM pieces JOIN dossiers_dossier d ON ST_Intersects(d.location, pieces.g)
     WHERE (%(date_from)s::date IS NULL OR d.received_at >= %(date_from)s::date)
       AND (%(date_to)s::date IS NULL OR d.received_at < %(date_to)s::date + 1)
     GROUP BY pieces.code
),
communes AS MATERIALIZED (
    SELECT population, ST_Area(ST_Transform(geom, {METRIC_SRID})) AS area, ST_Transform(geom, {METRIC_SRID}) AS g
      FROM layers_administrativeunit
     WHERE level = 'commune' AND era = %(era)s AND population IS NOT NULL
)
SELECT k.code, k.name, ST_AsGeoJSON(ST_Transform(k.g, 4326), 6) AS geojson,
       ST_Area(ST_Transform(k.g, 4326)::geography) AS area_m2,
       (SELECT COALESCE(SUM(cm.population * ST_Area(ST_Intersection(cm.g, k.g)) / NULLIF(cm.area, 0)), 0)
          FROM communes cm WHERE ST_Intersects(cm.g, k.g)) AS population,
       COALESCE(counts.dossiers, 0) AS dossiers
  FROM catchment k LEFT JOIN counts ON counts.code = k.code
 ORDER BY k.code
"""


def catchments(*, kind: str, era: str, date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict:
    """GeoJSON FeatureCollection: one nearest-facility polygon per active
    service point of the kind. One query."""
    rows = _rows(_CATCHMENTS_SQL, {"kind": kind, "era": era, "date_from": date_from, "date_to": date_to})
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
