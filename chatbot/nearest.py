"""Where a follower who shared a location can get help: the nearest service
points by geodesic metres.

Today `layers.selectors.service_points_nearest` (any kind). When
`maps.nearest.nearest_help` (opening hours, load, procedure) is on main, it
replaces the call below; `HelpPoint` is what the conversation needs of it."""

from __future__ import annotations

from dataclasses import dataclass

from layers.selectors import service_points_nearest


@dataclass(frozen=True)
class HelpPoint:
    code: str
    name: str
    address: str
    opening_hours: str
    lon: float
    lat: float
    distance_m: float


def help_nearby(*, lon: float, lat: float, limit: int) -> list[HelpPoint]:
    return [
        HelpPoint(
            code=point.code,
            name=point.name,
            address=point.address,
            opening_hours=point.opening_hours,
            lon=point.lon,
            lat=point.lat,
            distance_m=point.distance_m,
        )
        for point in service_points_nearest(lon=lon, lat=lat, kind=None, limit=limit)
    ]
