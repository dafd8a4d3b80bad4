"""Reads for the postal map (/planning/postal/): parcels on their way, at
their last known position, and how results sent by post fare per commune
(2025 map): working days from hand-over to delivery, and failed deliveries.

Definitions (README "Vietnam Post"):
- in progress: a shipment not yet delivered, returned, cancelled or refused;
  placed at the post office the carrier last reported it at, else (an
  outbound parcel still at the desk) at the desk, else at the commune of
  the applicant's address (a point inside it);
- per commune, over a period: the results sent by post (outbound legs) whose
  delivery ended in the period, delivered (by `delivered_at`) or returned (by
  `status_at`), counted in the commune of the delivery address; `failed`:
  those returned or with at least one failed attempt; `failure_rate` =
  failed / ended; `median_working_days`: the median over the delivered ones
  of the working days d with handed < d <= delivered (local dates; the day
  of the hand-over does not count, a same-day delivery is 0)."""

import datetime as dt
import json
import statistics
from functools import cache

from django.db import connection
from django.utils import timezone

from dossiers.calendar import working_calendar
from postal.models import IN_PROGRESS_STATUSES, Leg, ShipmentStatus

_IN_PROGRESS_SQL = """
WITH communes AS (
    SELECT id, full_name, ST_PointOnSurface(geom) AS p FROM layers_administrativeunit
    WHERE era = '2025' AND level = 'commune' AND id IN (
        SELECT DISTINCT citizen_commune_id FROM postal_shipment WHERE status = ANY(%(statuses)s))
)
SELECT s.id, s.leg, s.status, s.status_at, s.failed_attempts,
       CASE WHEN lp.id IS NOT NULL THEN 'post_office'
            WHEN s.leg = 'outbound' AND s.picked_up_at IS NULL THEN 'desk'
            WHEN c.id IS NOT NULL THEN 'commune' ELSE 'desk' END AS placed,
       CASE WHEN lp.id IS NOT NULL THEN lp.name
            WHEN s.leg = 'outbound' AND s.picked_up_at IS NULL THEN dp.name
            ELSE coalesce(c.full_name, dp.name) END,
       ST_X(w.p), ST_Y(w.p)
FROM postal_shipment s
JOIN dossiers_dossier d ON d.id = s.dossier_id
JOIN layers_servicepoint dp ON dp.id = d.receiving_point_id
LEFT JOIN layers_servicepoint lp ON lp.id = s.last_point_id
LEFT JOIN communes c ON c.id = s.citizen_commune_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN lp.id IS NOT NULL THEN lp.geom
                WHEN s.leg = 'outbound' AND s.picked_up_at IS NULL THEN dp.geom
                ELSE coalesce(c.p, dp.geom) END AS p
) w
WHERE s.status = ANY(%(statuses)s) {filters}
ORDER BY s.id
"""


def shipments_in_progress_geojson(*, leg: str | None = None, status: str | None = None) -> dict:
    statuses = [status] if status else [str(s) for s in IN_PROGRESS_STATUSES]
    filters = "AND s.leg = %(leg)s" if leg else ""
    with connection.cursor() as cursor:
        cursor.execute(_IN_PROGRESS_SQL.format(filters=filters), {"statuses": statuses, "leg": leg})
        rows = cursor.fetchall()
    now = timezone.now()
    features = [
        {
            "type": "Feature",
            "id": pk,
            "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": {
                "leg": row_leg,
                "status": row_status,
                "status_label": ShipmentStatus(row_status).label,
                "status_at": timezone.localtime(status_at).isoformat(),
                "days_in_status": round((now - status_at).total_seconds() / 86400, 1),
                "failed_attempts": failed,
                "placed_at": placed,
                "place_name": place,
            },
        }
        for pk, row_leg, row_status, status_at, failed, placed, place, lon, lat in rows
    ]
    return {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}


_ENDED_SQL = """
SELECT s.citizen_commune_id, s.status, s.picked_up_at, s.delivered_at, s.failed_attempts
FROM postal_shipment s
WHERE s.leg = %(leg)s AND s.citizen_commune_id IS NOT NULL
  AND ((s.status = 'delivered' AND s.delivered_at >= %(start)s AND s.delivered_at < %(end)s)
    OR (s.status = 'returned' AND s.status_at >= %(start)s AND s.status_at < %(end)s))
"""


def deliveries_by_commune(*, date_from: dt.date, date_to: dt.date) -> list[dict]:
    """Every 2025 commune with its figures over [date_from, date_to] (zeros
    and nulls where nothing ended there), and its outline as GeoJSON text."""
    calendar = working_calendar()

    @cache
    def working_days(first: dt.date, last: dt.date) -> int:
        return calendar.working_days_between(first, last)

    start = timezone.make_aware(dt.datetime.combine(date_from, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min))
    figures: dict[int, dict] = {}
    with connection.cursor() as cursor:
        cursor.execute(_ENDED_SQL, {"leg": Leg.OUTBOUND.value, "start": start, "end": end})
        for commune_id, status, handed, delivered, failed_attempts in cursor.fetchall():
            commune = figures.setdefault(commune_id, {"ended": 0, "delivered": 0, "failed": 0, "days": []})
            commune["ended"] += 1
            if status == ShipmentStatus.RETURNED or failed_attempts:
                commune["failed"] += 1
            if status == ShipmentStatus.DELIVERED:
                commune["delivered"] += 1
                if handed is not None:
                    local = timezone.localtime
                    commune["days"].append(working_days(local(handed).date(), local(delivered).date()))
        cursor.execute(
            """SELECT id, code, name, ST_AsGeoJSON(coalesce(geom_simplified, geom), 6)
               FROM layers_administrativeunit WHERE era = '2025' AND level = 'commune' ORDER BY code"""
        )
        communes = cursor.fetchall()
    rows = []
    for pk, code, name, geometry in communes:
        commune = figures.get(pk, {"ended": 0, "delivered": 0, "failed": 0, "days": []})
        rows.append(
            {
                "code": code,
                "name": name,
                "ended": commune["ended"],
                "delivered": commune["delivered"],
                "failed": commune["failed"],
                "returned": commune["ended"] - commune["delivered"],
                "failure_rate": round(commune["failed"] / commune["ended"], 4) if commune["ended"] else None,
                "median_working_days": statistics.median(commune["days"]) if commune["days"] else None,
                "geometry": geometry,
            }
        )
    return rows


def deliveries_geojson(*, date_from: dt.date, date_to: dt.date) -> dict:
    features = []
    for row in deliveries_by_commune(date_from=date_from, date_to=date_to):
        geometry = row.pop("geometry")
        features.append({"type": "Feature", "id": row["code"], "geometry": json.loads(geometry), "properties": row})
    return {
        "type": "FeatureCollection",
        "period": {"from": date_from.isoformat(), "to": date_to.isoformat()},
        "features": features,
    }
