"""Where can I get this done, now? The nearest service points that accept a
procedure, whether each is open at a moment and when it opens next, how
loaded it is and how long one may wait, ranked by distance or by distance
plus a load penalty.

It composes three apps, so it lives in `maps` (which reads everything):
`layers` finds the points (exact geodesic nearest), `dossiers` knows the
procedure and the working-day calendar, `maps.load` the cached load figures.

Which points accept a procedure (docs/decisions.md, "Who receives which
dossier"):
- a commune-level procedure (and a former district-level one: districts
  ceased on 1 July 2025 and their procedures went to the communes) at every
  commune desk, since Decree 118/2025 lets one-stop desks receive dossiers of
  the province regardless of the applicant's commune, and at the provincial
  centres;
- a province-level procedure at the provincial centres only;
- by agency: a procedure whose implementing agency is the people's committee
  of one commune (`Agency.admin_unit_code`) at that commune's desk only (and
  the provincial centres): the dossier services route a commune procedure
  received at a desk to the committee of the desk's commune;
- at post offices, of any level, only when the procedure may be sent by
  post (`Procedure.postal_submission_allowed`, Decision 45/2016).

Wait model (`WAIT_MODEL`): the dossiers still at a point's desk (received,
not yet handed over) per counter, times the minutes the point took from
receipt to hand-over recently (median over 30 days, bounded), with a floor.
"""

import datetime as dt
import math
from dataclasses import dataclass

from django.utils import timezone

from dossiers.calendar import working_calendar
from dossiers.models import AdministrativeLevel, Procedure
from gisportal.accounts.models import Agency
from layers.models import ServicePointKind
from layers.selectors import NearestPoint, service_points_nearest

from .load import HANDOVER_WINDOW_DAYS, LOAD_CACHE_SECONDS, PointLoad, point_loads
from .opening import OpeningState, opening_state

RANKS = ("distance", "balanced")
KINDS = (*ServicePointKind.values, "any")
MAX_LIMIT = 50

# Balanced ranking: a point is worth this many metres of extra travel less per
# open dossier per counter it carries (about a minute on a motorbike in town).
PENALTY_M_PER_QUEUED_DOSSIER = 100.0
# The answer is taken from the POOL_FACTOR × limit (at least POOL_MIN) nearest
# accepting points: open ones first among them, then by distance or score.
# A closed desk next door is still shown before an open one 40 km away.
POOL_FACTOR = 3
POOL_MIN = 15

# Wait model, in minutes.
WAIT_FLOOR_MIN = 5
MINUTES_PER_DOSSIER_DEFAULT = 15.0
MINUTES_PER_DOSSIER_MIN = 3.0
MINUTES_PER_DOSSIER_MAX = 60.0

RANKING_FORMULA = {
    "distance": "distance_m",
    "balanced": "score_m = distance_m + penalty_m_per_queued_dossier × load.per_counter",
}
WAIT_MODEL = {
    "formula": (
        "estimated_wait_min = max(floor_min, ceil(load.at_desk / load.counters × minutes_per_dossier)), where "
        "load.at_desk counts the dossiers received at the point and not yet handed over to the agency, and "
        "minutes_per_dossier is the point's median time from receipt to hand-over over the last "
        f"{HANDOVER_WINDOW_DAYS} days, bounded to [{MINUTES_PER_DOSSIER_MIN:g}, {MINUTES_PER_DOSSIER_MAX:g}] "
        f"({MINUTES_PER_DOSSIER_DEFAULT:g} without any hand-over). An estimate from the dossier records, not a "
        "count of people in the room."
    ),
    "floor_min": WAIT_FLOOR_MIN,
    "window_days": HANDOVER_WINDOW_DAYS,
    "minutes_per_dossier_bounds": [MINUTES_PER_DOSSIER_MIN, MINUTES_PER_DOSSIER_MAX],
    "minutes_per_dossier_default": MINUTES_PER_DOSSIER_DEFAULT,
    "refreshed_every_s": LOAD_CACHE_SECONDS,
}

_COMMUNE_LEVELS = frozenset({AdministrativeLevel.COMMUNE, AdministrativeLevel.DISTRICT})
# Longest national code we look up (the catalogue's column is 20 characters).
_MAX_CODE_LENGTH = 20


class UnknownProcedure(ValueError):
    """No active procedure has this code."""


@dataclass(frozen=True)
class Acceptance:
    """The points that receive a procedure's dossiers."""

    kinds: frozenset[str]
    # Commune desks only in the unit of this code (None: every desk).
    desk_unit_code: str | None


def procedure_acceptance(procedure: Procedure) -> Acceptance:
    """Which points accept `procedure` (the rules in the module docstring)."""
    kinds = {ServicePointKind.PROVINCIAL_CENTRE}
    desk_unit_code = None
    if procedure.level in _COMMUNE_LEVELS:
        kinds.add(ServicePointKind.COMMUNE_DESK)
        agency = procedure.agency
        if agency.kind == Agency.Kind.PEOPLES_COMMITTEE and agency.admin_unit_code:
            desk_unit_code = agency.admin_unit_code
    if procedure.postal_submission_allowed:
        kinds.add(ServicePointKind.POST_OFFICE)
    return Acceptance(kinds=frozenset(str(k) for k in kinds), desk_unit_code=desk_unit_code)


def procedure_for_help(code: str) -> Procedure:
    """The active procedure with this national code (its agency joined), or
    UnknownProcedure."""
    if not code or len(code) > _MAX_CODE_LENGTH or not code.isprintable():
        raise UnknownProcedure(code)
    procedure = Procedure.objects.select_related("agency").filter(code=code, is_active=True).first()
    if procedure is None:
        raise UnknownProcedure(code)
    return procedure


@dataclass(frozen=True)
class Load:
    open_dossiers: int
    counters: int
    per_counter: float  # open dossiers per counter
    at_desk: int  # of them, received and not yet handed over
    minutes_per_dossier: float


@dataclass(frozen=True)
class HelpPoint:
    rank: int  # 1-based position in the answer
    point: NearestPoint  # id, code, kind, name, ..., lon, lat, distance_m (geodesic, WGS84)
    opening: OpeningState  # open_now, opens_at, closes_at (aware, Asia/Ho_Chi_Minh)
    accepts_procedure: bool | None  # None when no procedure was asked for
    load: Load
    estimated_wait_min: int
    score_m: float | None  # rank="balanced" only


@dataclass(frozen=True)
class NearestHelp:
    lon: float
    lat: float
    kind: str
    limit: int
    rank: str
    open_at: dt.datetime  # aware, local time
    procedure: Procedure | None
    acceptance: Acceptance | None
    points: list[HelpPoint]
    candidates: int  # pool size the answer was taken from
    loads_as_of: dt.datetime

    @property
    def ranking(self) -> dict:
        return ranking_description(rank=self.rank, candidates=self.candidates)


def ranking_description(*, rank: str, candidates: int) -> dict:
    return {
        "by": rank,
        "formula": RANKING_FORMULA[rank],
        "penalty_m_per_queued_dossier": PENALTY_M_PER_QUEUED_DOSSIER if rank == "balanced" else 0.0,
        "open_first": True,
        "candidates": candidates,
        "order": (
            f"Among the {candidates} nearest accepting points (geodesic distance, WGS84): those open at open_at "
            f"first, then by {'score_m' if rank == 'balanced' else 'distance_m'} ascending, then distance_m, then id."
        ),
    }


def minutes_per_dossier(load: PointLoad) -> float:
    if load.handover_minutes is None:
        return MINUTES_PER_DOSSIER_DEFAULT
    return min(max(load.handover_minutes, MINUTES_PER_DOSSIER_MIN), MINUTES_PER_DOSSIER_MAX)


def estimated_wait_min(*, at_desk: int, counters: int, minutes: float) -> int:
    return max(WAIT_FLOOR_MIN, math.ceil(at_desk / counters * minutes))


def pool_size(limit: int) -> int:
    return max(POOL_FACTOR * limit, POOL_MIN)


def nearest_help(
    *,
    lon: float,
    lat: float,
    procedure_code: str | None = None,
    open_at: dt.datetime | None = None,
    kind: str = "any",
    limit: int = 5,
    rank: str = "distance",
) -> NearestHelp:
    """The `limit` best service points for a citizen at (lon, lat) in WGS84
    degrees: of `kind` ("any" or a ServicePointKind value), accepting the
    procedure of national code `procedure_code` when given, open at `open_at`
    first (an aware datetime; default now; a naive one is read as local
    time), ranked by `rank` ("distance" or "balanced").

    Raises UnknownProcedure for a code no active procedure has, ValueError
    for a kind, rank or limit (1-50) outside those values. Reads only; 2-3
    queries (procedure, calendar, points), plus two every minute or so to
    refresh the cached load figures."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if rank not in RANKS:
        raise ValueError(f"rank must be one of {', '.join(RANKS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be within 1-{MAX_LIMIT}")
    procedure = procedure_for_help(procedure_code) if procedure_code is not None else None
    acceptance = procedure_acceptance(procedure) if procedure is not None else None
    moment = timezone.localtime(_aware(open_at) if open_at is not None else timezone.now())

    kinds = None
    if acceptance is not None:
        kinds = acceptance.kinds if kind == "any" else acceptance.kinds & {kind}
    candidates = pool_size(limit)
    nearest = service_points_nearest(
        lon=lon,
        lat=lat,
        kind=None if kind == "any" else kind,
        kinds=kinds,
        limit=candidates,
        desk_unit_code=acceptance.desk_unit_code if acceptance is not None else None,
    )
    calendar = working_calendar()
    loads = point_loads()
    ranked = []
    for point in nearest:
        point_load = loads.of(point.id)
        minutes = minutes_per_dossier(point_load)
        load = Load(
            open_dossiers=point_load.open_dossiers,
            counters=point.counters,
            per_counter=point_load.open_dossiers / point.counters,
            at_desk=point_load.at_desk,
            minutes_per_dossier=minutes,
        )
        score = point.distance_m + PENALTY_M_PER_QUEUED_DOSSIER * load.per_counter if rank == "balanced" else None
        opening = opening_state(point.opening_hours, moment, calendar)
        cost = score if score is not None else point.distance_m
        ranked.append(((not opening.open_now, cost, point.distance_m, point.id), point, opening, load, score))
    ranked.sort(key=lambda item: item[0])
    points = [
        HelpPoint(
            rank=position,
            point=point,
            opening=opening,
            accepts_procedure=None if acceptance is None else True,
            load=load,
            estimated_wait_min=estimated_wait_min(
                at_desk=load.at_desk, counters=load.counters, minutes=load.minutes_per_dossier
            ),
            score_m=score,
        )
        for position, (_key, point, opening, load, score) in enumerate(ranked[:limit], start=1)
    ]
    return NearestHelp(
        lon=lon,
        lat=lat,
        kind=kind,
        limit=limit,
        rank=rank,
        open_at=moment,
        procedure=procedure,
        acceptance=acceptance,
        points=points,
        candidates=candidates,
        loads_as_of=loads.as_of,
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
