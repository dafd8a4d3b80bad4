"""Reads for the load planning page: how busy each service point is over a
period, and a capacity-aware accessibility score per commune (two-step
floating catchment area, 2SFCA).

Counting rules follow `dossiers.stats`: `received` counts dossiers received
in the period at the point, `finished`/`late` dossiers received there and
finished in the period (both summed from DailyStat, dimension
service_point). The open queue is a live count over the dossiers: DailyStat
does not keep it."""

import datetime as dt
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from dossiers.calendar import working_calendar
from dossiers.models import OPEN_STATUSES, DailyStat, Status
from layers.models import ServicePoint, UnitLevel
from layers.selectors import units_valid_on

# A point is overloaded when it received more dossiers per counter per
# working day than the capacity norm settings.COUNTER_CAPACITY_PER_DAY (see
# the README, "Planning"): a stated norm, not a share of the points, so a
# province where every desk is quiet has no "overloaded" desk.
# Accessibility is reported as counters per this many inhabitants.
PER_INHABITANTS = 10_000


def working_days_count(*, date_from: dt.date, date_to: dt.date) -> int:
    """Working days d with date_from <= d <= date_to."""
    calendar = working_calendar()
    # Counting date_from itself apart: the day before 1 January of year 1 does not exist.
    first = int(calendar.is_working_day(date_from)) if date_from <= date_to else 0
    return first + calendar.working_days_between(date_from, date_to)


def _stat_sums(date_from: dt.date, date_to: dt.date) -> dict[int, tuple[int, int, int]]:
    """point id -> (received, finished, late) over the period."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, sum(received), sum(finished), sum(late) FROM dossiers_dailystat "
            "WHERE dimension = %s AND day BETWEEN %s AND %s GROUP BY key",
            [DailyStat.Dimension.SERVICE_POINT, date_from, date_to],
        )
        return {key: (int(r or 0), int(f or 0), int(late or 0)) for key, r, f, late in cursor.fetchall()}


def _queues() -> dict[int, tuple[int, int]]:
    """point id -> (dossiers received there that are still open now, any
    receipt date; of them, those still at the desk: received, not yet handed
    over to the agency)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT receiving_point_id, count(*), count(*) FILTER (WHERE status = %s) "
            "FROM dossiers_dossier WHERE status = ANY(%s) GROUP BY receiving_point_id",
            [str(Status.RECEIVED), sorted(str(s) for s in OPEN_STATUSES)],
        )
        return {point: (open_count, at_desk) for point, open_count, at_desk in cursor.fetchall()}


def _open_queues() -> dict[int, int]:
    """point id -> dossiers received there that are still open now (any receipt date)."""
    return {point: open_count for point, (open_count, _at_desk) in _queues().items()}


# --- the load each point carries, for "where can I get this done, now" -------------
#
# Read on every nearest request, so it is a cached figure and not a count per
# request: the queues are recounted at most every LOAD_CACHE_SECONDS, the desks'
# handling times (a heavier query over a month of events) every
# HANDOVER_CACHE_SECONDS. Both live in the shared cache (CACHE_URL).
LOAD_CACHE_SECONDS = 60
HANDOVER_CACHE_SECONDS = 15 * 60
HANDOVER_WINDOW_DAYS = 30
_QUEUES_KEY = "maps:point-queues:v1"
_HANDOVER_KEY = "maps:point-handover-minutes:v1"


@dataclass(frozen=True)
class PointLoad:
    open_dossiers: int
    at_desk: int
    # Median minutes from receipt to hand-over (`assign`) of the dossiers
    # received there in the last HANDOVER_WINDOW_DAYS; None without any.
    handover_minutes: float | None


@dataclass(frozen=True)
class PointLoads:
    by_point: dict[int, PointLoad]
    as_of: dt.datetime  # when the queues were counted

    def of(self, point_id: int) -> PointLoad:
        return self.by_point.get(point_id) or PointLoad(open_dossiers=0, at_desk=0, handover_minutes=None)


def _handover_minutes(since: dt.datetime) -> dict[int, float]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT d.receiving_point_id,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - d.received_at) / 60)
               FROM dossiers_dossier d
               JOIN dossiers_dossierevent e ON e.dossier_id = d.id AND e.action = 'assign'
               WHERE d.received_at >= %s
               GROUP BY d.receiving_point_id""",
            [since],
        )
        return {point: float(minutes) for point, minutes in cursor.fetchall()}


def point_loads() -> PointLoads:
    """Each point's open dossiers, those still at its desk, and its recent
    handling time, as of at most LOAD_CACHE_SECONDS (handling times
    HANDOVER_CACHE_SECONDS) ago. Points without any open dossier are absent
    (`PointLoads.of` gives them zeros)."""
    queues = cache.get(_QUEUES_KEY)
    if queues is None:
        queues = {"as_of": timezone.now().isoformat(), "points": _queues()}
        cache.set(_QUEUES_KEY, queues, LOAD_CACHE_SECONDS)
    handover = cache.get(_HANDOVER_KEY)
    if handover is None:
        handover = _handover_minutes(timezone.now() - dt.timedelta(days=HANDOVER_WINDOW_DAYS))
        cache.set(_HANDOVER_KEY, handover, HANDOVER_CACHE_SECONDS)
    by_point = {
        point: PointLoad(open_dossiers=open_count, at_desk=at_desk, handover_minutes=handover.get(point))
        for point, (open_count, at_desk) in queues["points"].items()
    }
    for point, minutes in handover.items():
        by_point.setdefault(point, PointLoad(open_dossiers=0, at_desk=0, handover_minutes=minutes))
    return PointLoads(by_point=by_point, as_of=dt.datetime.fromisoformat(queues["as_of"]))


def service_point_load(*, date_from: dt.date, date_to: dt.date, kind: str | None = None) -> dict:
    """A GeoJSON FeatureCollection of the active service points (of `kind`,
    or all), each with its load over [date_from, date_to]; features sorted by
    received_per_counter_per_day, most loaded first."""
    working_days = working_days_count(date_from=date_from, date_to=date_to)
    sums = _stat_sums(date_from, date_to)
    queues = _open_queues()
    points = ServicePoint.objects.filter(is_active=True).order_by("code")
    if kind:
        points = points.filter(kind=kind)
    features = []
    for point in points.only("id", "code", "name", "kind", "counters", "geom"):
        received, finished, late = sums.get(point.id, (0, 0, 0))
        per_counter_day = received / point.counters / working_days if working_days else None
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(point.geom.x, 6), round(point.geom.y, 6)]},
                "properties": {
                    "code": point.code,
                    "name": point.name,
                    "kind": point.kind,
                    "counters": point.counters,
                    "received": received,
                    "working_days": working_days,
                    "received_per_counter_per_day": None if per_counter_day is None else round(per_counter_day, 4),
                    "open_queue": queues.get(point.id, 0),
                    "finished": finished,
                    "late": late,
                    "late_share": round(late / finished, 4) if finished else None,
                },
            }
        )
    features.sort(key=lambda f: (-(f["properties"]["received_per_counter_per_day"] or 0), f["properties"]["code"]))
    capacity = capacity_per_counter_per_day()
    for rank, feature in enumerate(features, start=1):
        props = feature["properties"]
        props["rank"] = rank
        rate = props["received_per_counter_per_day"]
        props["overloaded"] = rate is not None and rate > capacity
    return {
        "type": "FeatureCollection",
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "kind": kind,
        "working_days": working_days,
        "capacity_per_counter_per_day": capacity,
        "generated_at": timezone.localtime().isoformat(timespec="seconds"),
        "features": features,
    }


def capacity_per_counter_per_day() -> float:
    """The norm above which a point is overloaded (dossiers received per
    counter per working day)."""
    return float(settings.COUNTER_CAPACITY_PER_DAY)


_TWO_STEP_SQL = """
WITH communes AS (
    SELECT id, population, ST_PointOnSurface(geom)::geography AS g
    FROM layers_administrativeunit WHERE id = ANY(%(communes)s)
),
points AS (
    SELECT id, counters, geom::geography AS g
    FROM layers_servicepoint WHERE is_active AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
),
-- Step 1: each point's counters over the population (known) within reach.
ratios AS (
    SELECT p.id, p.counters::float8 / NULLIF(sum(c.population), 0) AS r
    FROM points p JOIN communes c ON c.population IS NOT NULL AND ST_DWithin(c.g, p.g, %(radius)s)
    GROUP BY p.id, p.counters
)
-- Step 2: each commune sums the ratios of the points within reach.
SELECT c.id, coalesce(sum(r.r), 0)
FROM communes c
LEFT JOIN points p ON ST_DWithin(c.g, p.g, %(radius)s)
LEFT JOIN ratios r ON r.id = p.id
GROUP BY c.id
"""


def commune_accessibility(*, on: dt.date, radius_m: float, kind: str | None = None) -> dict:
    """2SFCA per commune in force on `on`: step 1, R_j = counters_j / population
    within `radius_m` of point j (communes as their ST_PointOnSurface); step 2,
    A_i = sum of R_j over points within `radius_m` of commune i. Distances are
    geodesic (geography, WGS 84 spheroid). Reported as counters per 10,000
    inhabitants. Communes with unknown population are left out of the demand
    and reported with population and accessibility null."""
    units = (
        units_valid_on(on)
        .filter(level=UnitLevel.COMMUNE)
        .order_by("code")
        .values("id", "code", "name", "full_name", "era", "population", "geom_simplified", "geom")
    )
    units = list(units)
    with connection.cursor() as cursor:
        cursor.execute(_TWO_STEP_SQL, {"communes": [u["id"] for u in units], "kind": kind, "radius": radius_m})
        scores = dict(cursor.fetchall())
    features = []
    for unit in units:
        known = unit["population"] is not None
        score = scores.get(unit["id"]) if known else None
        geometry = unit["geom_simplified"] or unit["geom"]
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(geometry.json),
                "properties": {
                    "code": unit["code"],
                    "name": unit["full_name"] or unit["name"],
                    "era": unit["era"],
                    "population": unit["population"],
                    "accessibility": None if score is None else score * PER_INHABITANTS,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "on": on.isoformat(),
        "kind": kind,
        "radius_m": radius_m,
        "unit": "counters per 10,000 inhabitants",
        "features": features,
    }
