"""Reads of feedback with the access rules: one door per question.

Who sees a report in full (`feedback_get_for_user`, `feedback_visible_to`):
- the signed-in citizen who reported it;
- officials (any role) of the agency it is routed to now, and of an agency
  that transferred it away (they keep reading what they handed over);
- administrators.
Anyone else gets the public view only (`feedback_public_get`), which the
serializers reduce to what may be published (no names, phones, e-mails,
original photos or typed addresses; the text and the photos' public copies
once the answer is published; a coarse location until then). Missing and
forbidden look the same: a 404.

Who acts (`feedback_may_act`, asked by the services, the API's
`allowed_actions` and the pages): processing officers and leaders of the
agency handling it now; the reporter (signed in) for the reporter's moves of
`feedback.workflow`. Administrators and desk officers read only.

For other apps (the Zalo channel):
- `feedback_public_get(*, public_id) -> Feedback | None`: a report by its
  public id (e.g. `PA-251203-000042`), whatever its status; show it through
  `feedback.serializers.feedback_public` only."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dossiers.catalogue import fold
from gisportal.accounts.models import Agency, Role
from gisportal.accounts.selectors import Actor, actor_for
from layers.models import AdministrativeUnit

from .models import OPEN_STATUSES, Category, Feedback, FeedbackEvent, Rating
from .workflow import Transition, transitions_from

_ACTING_ROLES = frozenset({Role.PROCESSING_OFFICER, Role.LEADER})


# --- categories and routing ------------------------------------------------------


def categories_active() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).order_by("order", "code")


def category_get(*, code: str) -> Category | None:
    return categories_active().filter(code=code).first() if code else None


def agency_responsible(*, category: Category, commune: AdministrativeUnit) -> Agency | None:
    """Routing: the people's committee of the commune (2025 map) for local
    matters, the provincial department of the category's sector otherwise;
    the fallback agency (FEEDBACK_FALLBACK_AGENCY, the public administration
    service centre) when the portal knows no such agency."""
    if category.scope == Category.Scope.LOCAL:
        found = Agency.objects.filter(kind=Agency.Kind.PEOPLES_COMMITTEE, admin_unit_code=commune.code)
    else:
        found = Agency.objects.filter(kind=Agency.Kind.DEPARTMENT, sector=category.sector)
    return found.order_by("code").first() or Agency.objects.filter(code=settings.FEEDBACK_FALLBACK_AGENCY).first()


def _communes_2025() -> QuerySet[AdministrativeUnit]:
    return AdministrativeUnit.objects.filter(era="2025", level="commune", valid_to__isnull=True).only(
        "id", "code", "name", "full_name"
    )


def commune_at(*, lon: float, lat: float) -> AdministrativeUnit | None:
    """The 2025 commune containing the point (the first by code on a shared
    border); else the nearest one within FEEDBACK_PROVINCE_MARGIN_M metres
    (a report from the far bank of a border river); None farther out."""
    point = f"SRID=4326;POINT({lon!r} {lat!r})"
    inside = _communes_2025().filter(geom__intersects=point).order_by("code").first()
    if inside is not None:
        return inside
    margin_m = settings.FEEDBACK_PROVINCE_MARGIN_M
    # A degree is at least 100 km at these latitudes: the box keeps the
    # geography distance to a few candidates.
    margin_deg = margin_m / 100_000
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT id FROM layers_administrativeunit
               WHERE era = '2025' AND level = 'commune' AND valid_to IS NULL
                 AND geom && ST_Expand(ST_GeomFromEWKT(%(p)s), %(deg)s)
                 AND ST_DWithin(geom::geography, ST_GeomFromEWKT(%(p)s)::geography, %(m)s)
               ORDER BY ST_Distance(geom::geography, ST_GeomFromEWKT(%(p)s)::geography), code LIMIT 1""",
            {"p": point, "deg": margin_deg, "m": margin_m},
        )
        row = cursor.fetchone()
    return _communes_2025().get(pk=row[0]) if row else None


@dataclass(frozen=True)
class Place:
    """A commune matched to a typed address."""

    commune: AdministrativeUnit
    score: float
    matched_name: str  # the name found in the address (maybe a 2019 commune's)


_PLACE_SQL = """
WITH q AS (SELECT %(q)s::text AS q),
names AS (
    SELECT u.id AS target, u.name AS matched, 0 AS older FROM layers_administrativeunit u
    WHERE u.era = '2025' AND u.level = 'commune' AND u.valid_to IS NULL
    UNION ALL
    SELECT s.successor_id, o.name, 1 FROM layers_administrativeunit o
    JOIN layers_unitsuccession s ON s.predecessor_id = o.id
    JOIN layers_administrativeunit n ON n.id = s.successor_id AND n.era = '2025' AND n.level = 'commune'
    WHERE o.era = '2019' AND o.level = 'commune'
),
scored AS (
    SELECT target, matched, older,
           word_similarity(f_unaccent(lower(matched)), q.q)
           + CASE WHEN q.q LIKE '%% ' || f_unaccent(lower(matched)) || ' %%' THEN 1 ELSE 0 END AS score
    FROM names, q
)
SELECT DISTINCT ON (target) target, matched, score FROM scored
WHERE score >= %(threshold)s
ORDER BY target, score DESC, older, length(matched) DESC
"""
_NOT_WORD = re.compile(r"[^0-9a-z]+")
PLACE_MIN_SCORE = 0.75


def places_match(*, q: str, limit: int = 5) -> list[Place]:
    """2025 communes whose name (or a 2019 commune's name, for its successor)
    appears in an address typed with or without diacritics, best first. A name
    found whole in the address scores above 1, a near miss (a typo) up to 1."""
    folded = " " + " ".join(_NOT_WORD.sub(" ", fold(q)).split()) + " "
    if not folded.strip():
        return []
    with connection.cursor() as cursor:
        cursor.execute(_PLACE_SQL, {"q": folded, "threshold": PLACE_MIN_SCORE})
        rows = cursor.fetchall()
    # The longest name found first: "tan yen" before "yen" in "xa tan yen".
    rows.sort(key=lambda r: (-r[2], -len(r[1]), r[1]))
    communes = {c.pk: c for c in _communes_2025().filter(pk__in=[r[0] for r in rows[:limit]])}
    return [Place(communes[t], round(s, 3), m) for t, m, s in rows[:limit] if t in communes]


def commune_representative_point(commune: AdministrativeUnit) -> tuple[float, float]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM layers_administrativeunit WHERE id = %s) s",
            [commune.pk],
        )
        return cursor.fetchone()


# --- who sees, who acts --------------------------------------------------------------


def feedback_visible_to(actor: Actor) -> QuerySet[Feedback]:
    reports = Feedback.objects.all()
    if actor.is_anonymous:
        return reports.none()
    if actor.is_administrator:
        return reports
    own = Q(reporter_user_id=actor.user_id)
    if actor.is_official and actor.agency_id:
        handed_over = FeedbackEvent.objects.filter(action="transfer", from_agency_id=actor.agency_id).values(
            "feedback_id"
        )
        return reports.filter(own | Q(agency_id=actor.agency_id) | Q(pk__in=handed_over))
    return reports.filter(own)


def feedback_may_act(actor: Actor, report: Feedback) -> bool:
    if actor.is_anonymous or actor.is_administrator:
        return False
    if actor.role in _ACTING_ROLES:
        return actor.agency_id is not None and report.agency_id == actor.agency_id
    if actor.role == Role.CITIZEN:
        return report.reporter_user_id == actor.user_id
    return False


def feedback_actions(actor: Actor, report: Feedback) -> list[Transition]:
    if not feedback_may_act(actor, report):
        return []
    return transitions_from(report.status, actor.role)


def feedback_get_for_user(*, user, public_id: str, for_update: bool = False) -> Feedback:
    """The report if `user` may see it in full; Feedback.DoesNotExist otherwise."""
    reports = feedback_visible_to(actor_for(user))
    if for_update:
        reports = reports.select_for_update(of=("self",))
    return reports.select_related("category", "agency", "commune").get(public_id=public_id)


def feedback_public_get(*, public_id: str) -> Feedback | None:
    """Any report by its public id, for the public views (see the module docstring)."""
    if not public_id or len(public_id) > 20:
        return None
    return (
        Feedback.objects.select_related("category", "agency", "commune")
        .prefetch_related("photos")
        .filter(public_id=public_id)
        .first()
    )


DUE_SOON = dt.timedelta(days=2)


def feedback_worklist(
    *, user, status: str | None = None, due: str | None = None, category: str | None = None, now=None
) -> QuerySet[Feedback]:
    """Reports a caller works on (officials: their agency's; a citizen: their
    own), newest first. `due`: "late" (past the deadline of its current
    status), "soon" (due within two days, not yet late): oldest deadline
    first."""
    now = now or timezone.now()
    reports = feedback_visible_to(actor_for(user)).select_related("category", "agency", "commune")
    if status:
        reports = reports.filter(status=status)
    if category:
        reports = reports.filter(category__code=category)
    if due == "late":
        reports = reports.filter(due_at__lt=now)
    elif due == "soon":
        reports = reports.filter(due_at__gte=now, due_at__lt=now + DUE_SOON)
    return reports.order_by("due_at", "id") if due else reports.order_by("-received_at", "-id")


# --- nearby reports and the public map -------------------------------------------------------


@dataclass(frozen=True)
class Nearby:
    report: Feedback
    distance_m: float


def feedback_nearby(*, category: Category, lon: float, lat: float, now=None) -> list[Nearby]:
    """Reports of `category` received in the last FEEDBACK_NEARBY_DAYS within
    FEEDBACK_NEARBY_M metres (geodesic, WGS84) of the point, nearest first:
    what a citizen may follow instead of reporting it again."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=settings.FEEDBACK_NEARBY_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT id, ST_Distance(location::geography(Point,4326),
                                      ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography(Point,4326), true)
               FROM feedback_feedback
               WHERE category_id = %(category)s AND received_at >= %(since)s
                 AND ST_DWithin(location::geography(Point,4326),
                                ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography(Point,4326), %(m)s, true)
               ORDER BY 2, id LIMIT 20""",
            {"lon": lon, "lat": lat, "category": category.pk, "since": since, "m": settings.FEEDBACK_NEARBY_M},
        )
        rows = cursor.fetchall()
    reports = Feedback.objects.select_related("category", "agency", "commune").in_bulk([r[0] for r in rows])
    return [Nearby(reports[pk], distance) for pk, distance in rows if pk in reports]


# Web Mercator (EPSG:3857): the public map's coordinates are stored in it.
_R = 6378137.0
_WORLD_M = 2 * math.pi * _R


def mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(min(lat, 85.05112878), -85.05112878)
    return _R * math.radians(lon), _R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def lonlat(x: float, y: float) -> tuple[float, float]:
    return math.degrees(x / _R), math.degrees(2 * math.atan(math.exp(y / _R)) - math.pi / 2)


def public_position(lon: float, lat: float, *, exact: bool) -> tuple[float, float]:
    """(lon, lat) the public may see: exact once published, else the point
    snapped to a FEEDBACK_PUBLIC_GRID_DEG grid (about 100 m)."""
    if exact:
        return lon, lat
    grid = settings.FEEDBACK_PUBLIC_GRID_DEG
    return round(round(lon / grid) * grid, 6), round(round(lat / grid) * grid, 6)


# Below this zoom the map gets clusters counted by the server; from it on,
# points (clustered in the browser by markercluster).
POINTS_FROM_ZOOM = 14
MAX_POINTS = 5000
# Clusters are counted per cell of a grid aligned with the web map's tiles,
# TILE_CELLS × TILE_CELLS cells (64 px) per 256 px tile, and kept in the cache
# per tile under the data's version: a view is the union of its tiles, the
# same whatever the exact bbox, and a tile is counted once per change.
TILE_CELLS = 4
MAX_TILES = 400
CLUSTER_CACHE_S = 3600
_ORIGIN = math.pi * _R


@dataclass(frozen=True)
class MapFilter:
    bbox: tuple[float, float, float, float]
    zoom: int
    date_from: dt.datetime
    date_to: dt.datetime
    category_id: int | None = None
    statuses: tuple[str, ...] = ()

    def key(self) -> str:
        return f"{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}:{self.category_id or ''}:{','.join(self.statuses)}"


def _filters(f: MapFilter) -> tuple[str, dict]:
    sql = "received_at >= %(start)s AND received_at < %(end)s"
    params: dict = {"start": f.date_from, "end": f.date_to}
    if f.category_id is not None:
        sql += " AND category_id = %(category)s"
        params["category"] = f.category_id
    if f.statuses:
        sql += " AND status = ANY(%(statuses)s)"
        params["statuses"] = list(f.statuses)
    return sql, params


def tile_size_m(zoom: int) -> float:
    return 2 * _ORIGIN / 2**zoom


def cluster_cell_m(zoom: int) -> float:
    return tile_size_m(zoom) / TILE_CELLS


def _tile_range(bbox: tuple[float, float, float, float], zoom: int) -> tuple[int, int, int, int]:
    min_x, min_y = mercator(bbox[0], bbox[1])
    max_x, max_y = mercator(bbox[2], bbox[3])
    size, last = tile_size_m(zoom), 2**zoom - 1
    x0, x1 = (max(0, min(last, int((v + _ORIGIN) // size))) for v in (min_x, max_x))
    y0, y1 = (max(0, min(last, int((_ORIGIN - v) // size))) for v in (max_y, min_y))
    return x0, x1, y0, y1


def cluster_zoom(bbox: tuple[float, float, float, float], zoom: int) -> int:
    """`zoom`, or a lower one at which the view touches at most MAX_TILES
    tiles (a whole-world view asked at zoom 13 is counted as coarser cells)."""
    while zoom > 0:
        x0, x1, y0, y1 = _tile_range(bbox, zoom)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_TILES:
            break
        zoom -= 1
    return zoom


def map_tiles(bbox: tuple[float, float, float, float], zoom: int) -> list[tuple[int, int]]:
    """The (x, y) web-map tiles (y from the top) that a bbox touches."""
    x0, x1, y0, y1 = _tile_range(bbox, zoom)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def feedback_map_version() -> str:
    """Changes whenever a report is written (every write sets updated_at)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(updated_at), max(id) FROM feedback_feedback")
        updated, last = cursor.fetchone()
    return f"{updated.timestamp() if updated else 0:.6f}-{last or 0}"


def _count_tiles(f: MapFilter, tiles: list[tuple[int, int]]) -> dict[tuple[int, int], list]:
    """Per tile: [(sum_x, sum_y, count)] of its non-empty cells, in one query
    over the tiles' common extent."""
    size, cell = tile_size_m(f.zoom), cluster_cell_m(f.zoom)
    xs, ys = [t[0] for t in tiles], [t[1] for t in tiles]
    where, params = _filters(f)
    params.update(
        origin=_ORIGIN,
        cell=cell,
        x0=min(xs) * size - _ORIGIN,
        x1=(max(xs) + 1) * size - _ORIGIN,
        y0=_ORIGIN - (max(ys) + 1) * size,
        y1=_ORIGIN - min(ys) * size,
    )
    wanted = set(tiles)
    counted: dict[tuple[int, int], list] = {tile: [] for tile in tiles}
    with transaction.atomic(), connection.cursor() as cursor:
        # A hash of a few thousand cells, not a sort of every report on disk.
        cursor.execute("SET LOCAL work_mem = '32MB'")
        cursor.execute(
            f"""SELECT floor((public_x + %(origin)s) / %(cell)s)::bigint,
                       floor((%(origin)s - public_y) / %(cell)s)::bigint,
                       sum(public_x), sum(public_y), count(*)
                FROM feedback_feedback
                WHERE {where} AND public_x >= %(x0)s AND public_x < %(x1)s
                  AND public_y > %(y0)s AND public_y <= %(y1)s
                GROUP BY 1, 2""",
            params,
        )
        for i, j, sum_x, sum_y, count in cursor.fetchall():
            tile = (int(i) // TILE_CELLS, int(j) // TILE_CELLS)
            if tile in wanted:
                counted[tile].append((sum_x, sum_y, count))
    return counted


def feedback_map_clusters(f: MapFilter) -> list[tuple[float, float, int]]:
    """(lon, lat, count) per cell (64 px: a quarter of a tile's side) of
    the tiles the view touches: the mean position of the cell's reports and
    how many there are. Tiles come from the cache when the data has not
    changed since they were counted."""
    f = replace(f, zoom=cluster_zoom(f.bbox, f.zoom))
    tiles = map_tiles(f.bbox, f.zoom)
    version = feedback_map_version()
    keys = {tile: f"feedback:clusters:{f.zoom}:{tile[0]}:{tile[1]}:{f.key()}:{version}" for tile in tiles}
    cached = cache.get_many(list(keys.values()))
    cells = {tile: cached[keys[tile]] for tile in tiles if keys[tile] in cached}
    missing = [tile for tile in tiles if tile not in cells]
    if missing:
        counted = _count_tiles(f, missing)
        cache.set_many({keys[tile]: counted[tile] for tile in missing}, CLUSTER_CACHE_S)
        cells.update(counted)
    return [(*lonlat(sx / n, sy / n), n) for tile in tiles for sx, sy, n in cells[tile]]


def feedback_map_points(f: MapFilter) -> list[tuple]:
    """(public_id, category code, status, local day received as YYYY-MM-DD,
    lon, lat) of the reports in view (public positions), newest first, at
    most MAX_POINTS + 1. The view is found through the GiST index of the
    public positions."""
    where, params = _filters(f)
    min_x, min_y = mercator(f.bbox[0], f.bbox[1])
    max_x, max_y = mercator(f.bbox[2], f.bbox[3])
    params.update(x0=min_x, y0=min_y, x1=max_x, y1=max_y, limit=MAX_POINTS + 1, tz=timezone.get_current_timezone_name())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT f.public_id, c.code, f.status, to_char(f.received_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD'),
                       f.public_x, f.public_y
                FROM (SELECT public_id, category_id, status, received_at, public_x, public_y FROM feedback_feedback
                      WHERE {where}
                        AND ST_MakePoint(public_x, public_y) && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s)
                      ORDER BY received_at DESC, id DESC LIMIT %(limit)s) f
                JOIN feedback_category c ON c.id = f.category_id""",
            params,
        )
        rows = cursor.fetchall()
    return [(pid, code, status, day, *lonlat(x, y)) for pid, code, status, day, x, y in rows]


# --- satisfaction (Decision 766) ------------------------------------------------------------

_RATING_GROUPS = {"province": "0", "agency": "agency_id", "service_point": "service_point_id", "commune": "commune_id"}
SATISFIED_FROM = 4


def satisfaction_counts(*, group_by: str, date_from: dt.date, date_to: dt.date) -> dict[int, tuple[int, int]]:
    """key -> (ratings, ratings of SATISFIED_FROM or more) over the ratings
    made from `date_from` to `date_to` (local days), for dossiers and
    feedback answers together; the key as `maps.indicators766` groups (0
    for the province, an agency, service point or 2025 commune id; ratings
    without that group under 0). One index-only scan of the period."""
    column = _RATING_GROUPS[group_by]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce({column}, 0), count(*), count(*) FILTER (WHERE score >= %s) "
            f"FROM {Rating._meta.db_table} WHERE day BETWEEN %s AND %s GROUP BY 1",
            [SATISFIED_FROM, date_from, date_to],
        )
        return {key: (total, satisfied) for key, total, satisfied in cursor.fetchall()}


def feedback_open_count(*, agency_id: int) -> int:
    return Feedback.objects.filter(agency_id=agency_id, status__in=OPEN_STATUSES).count()
