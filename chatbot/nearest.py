"""Where a follower who shared a location can get help now: the nearest
service points by geodesic metres, those open now first, with when they
open or close and the estimated wait (`maps.nearest.nearest_help`, the same
answer as the nearest API and the map page). `HelpPoint` is what the
conversation needs of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from maps.nearest import nearest_help


@dataclass(frozen=True)
class HelpPoint:
    code: str
    name: str
    address: str
    lon: float
    lat: float
    distance_m: float
    open_now: bool | None  # None: hours unknown
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    estimated_wait_min: int


def help_nearby(*, lon: float, lat: float, limit: int) -> list[HelpPoint]:
    answer = nearest_help(lon=lon, lat=lat, limit=limit)
    return [
        HelpPoint(
            code=item.point.code,
            name=item.point.name,
            address=item.point.address,
            lon=item.point.lon,
            lat=item.point.lat,
            distance_m=item.point.distance_m,
            open_now=item.opening.open_now,
            opens_at=item.opening.opens_at,
            closes_at=item.opening.closes_at,
            estimated_wait_min=item.estimated_wait_min,
        )
        for item in answer.points
    ]
