"""GET /api/v1/service-points/nearest/: the nearest service points, and with
`procedure`, `open_at` or `rank` the answer to "where can I get this done,
now" (`maps.nearest.nearest_help`). Without those three it is the plain
geodesic look-up of `layers` it has always been, at the same cost."""

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from gisportal.api import BadParameters, PublicApiView, QueryParams, json_response, message
from gisportal.fastpath import answer_within_rate
from layers.apis import NEAREST_PARAMETERS, nearest_params, nearest_plain, nearest_point_feature

from .nearest import (
    MINUTES_PER_DOSSIER_DEFAULT,
    PENALTY_M_PER_QUEUED_DOSSIER,
    RANKS,
    WAIT_MODEL,
    NearestHelp,
    UnknownProcedure,
    nearest_help,
)

HELP_PARAMETERS = ("procedure", "open_at", "rank")
# open_at outside these is refused: the holiday calendar and the opening hours
# mean nothing far from today.
OPEN_AT_FIRST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
OPEN_AT_LAST = dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def _moment(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def help_as_json(answer: NearestHelp) -> dict:
    """The JSON of a `nearest_help` answer: the plain answer's fields, plus
    each point's opening, acceptance, load, wait and score."""
    features = []
    for item in answer.points:
        feature = nearest_point_feature(rank=item.rank, point=item.point)
        feature["properties"].update(
            {
                "open_now": item.opening.open_now,
                "opens_at": _moment(item.opening.opens_at),
                "closes_at": _moment(item.opening.closes_at),
                "accepts_procedure": item.accepts_procedure,
                "load": {
                    "open_dossiers": item.load.open_dossiers,
                    "counters": item.load.counters,
                    "per_counter": round(item.load.per_counter, 2),
                    "at_desk": item.load.at_desk,
                },
                "minutes_per_dossier": round(item.load.minutes_per_dossier, 1),
                "estimated_wait_min": item.estimated_wait_min,
                "score_m": None if item.score_m is None else round(item.score_m, 1),
            }
        )
        features.append(feature)
    procedure = answer.procedure
    return {
        "type": "FeatureCollection",
        "query": {
            "lon": answer.lon,
            "lat": answer.lat,
            "kind": answer.kind,
            "limit": answer.limit,
            "procedure": procedure.code if procedure else None,
            "open_at": answer.open_at.isoformat(),
            "rank": answer.rank,
        },
        "procedure": None
        if procedure is None
        else {
            "code": procedure.code,
            "name": procedure.name,
            "level": procedure.level,
            "agency": procedure.agency.code,
            "postal_submission_allowed": procedure.postal_submission_allowed,
            "accepted_at_kinds": sorted(answer.acceptance.kinds),
            "commune_desks_of_unit": answer.acceptance.desk_unit_code,
        },
        "ranking": answer.ranking,
        "wait_model": {**WAIT_MODEL, "as_of": timezone.localtime(answer.loads_as_of).isoformat()},
        "features": features,
    }


class ServicePointNearestApi(PublicApiView):
    """The hottest read of the portal. Over HTTP the plain look-up (none of
    `procedure`, `open_at`, `rank`) with valid parameters is answered by
    `plain_answer` on the lean path (gisportal/fastpath.py), in front of
    Django; this view answers it everywhere else (the test client, a HEAD),
    and answers the "now" look-ups, the 400s and the 429s."""

    @extend_schema(
        parameters=[
            *NEAREST_PARAMETERS,
            OpenApiParameter(
                "procedure",
                {"type": "string", "maxLength": 20, "pattern": r"^[0-9A-Za-z.\-]*$"},
                description="National code of a procedure (e.g. 1.001193): only the points that accept it.",
            ),
            OpenApiParameter(
                "open_at",
                OpenApiTypes.DATETIME,
                description="ISO 8601 moment (no offset: Vietnam time), 2000-2099; default now. Points open "
                "then come first; each says open_now, opens_at and closes_at.",
            ),
            OpenApiParameter(
                "rank",
                str,
                enum=list(RANKS),
                description="distance (default) or balanced: distance_m plus "
                f"{PENALTY_M_PER_QUEUED_DOSSIER:g} m per open dossier per counter (score_m).",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Nearest service points by geodesic distance (metres, WGS84); with procedure, open_at or rank: "
        "accepting points, opening state, load, estimated wait",
        description=(
            "Without `procedure`, `open_at` and `rank`: the `limit` nearest points of `kind`, ascending by "
            "`distance_m`. With any of them: among the nearest accepting points those open at `open_at` (default "
            "now) first, then by `distance_m` or, with rank=balanced, `score_m`; each feature adds `open_now`, "
            "`opens_at`, `closes_at`, `accepts_procedure`, `load` {open_dossiers, counters, per_counter, at_desk}, "
            "`minutes_per_dossier`, `estimated_wait_min`, `score_m`; the answer adds `procedure`, `ranking` and "
            f"`wait_model` (default minutes per dossier {MINUTES_PER_DOSSIER_DEFAULT:g})."
        ),
        operation_id="service_points_nearest",
    )
    def get(self, request):
        params = QueryParams(request.GET)
        lon, lat, kind, limit = nearest_params(params)
        wants_help = any(params.raw(name) is not None for name in HELP_PARAMETERS)
        if not wants_help:
            params.raise_if_invalid()
            return Response(nearest_plain(lon=lon, lat=lat, kind=kind, limit=limit))
        code = params.raw("procedure")
        open_at = params.moment("open_at", low=OPEN_AT_FIRST, high=OPEN_AT_LAST)
        rank = params.choice("rank", RANKS, default="distance")
        params.raise_if_invalid()
        try:
            answer = nearest_help(
                lon=lon, lat=lat, procedure_code=code, open_at=open_at, kind=kind, limit=limit, rank=rank
            )
        except UnknownProcedure:
            raise BadParameters(
                {"procedure": [message("Không có thủ tục này.", "No procedure has this code.")]}
            ) from None
        return Response(help_as_json(answer))


# --- the lean path (gisportal/fastpath.py) -------------------------------------------


def plain_lookup(query) -> tuple[float, float, str, int] | None:
    """lon, lat, kind, limit of a plain look-up whose parameters are valid;
    None for anything else (a "now" parameter, a bad parameter), which the
    view answers (its 400 names the parameter)."""
    params = QueryParams(query)
    lon, lat, kind, limit = nearest_params(params)
    wants_help = any(params.raw(name) is not None for name in HELP_PARAMETERS)  # may note white space
    if wants_help or params.errors:
        return None
    return lon, lat, kind, limit


def plain_answer(request: HttpRequest, lookup: tuple[float, float, str, int], view) -> HttpResponse:
    """What the view answers to a plain look-up, without DRF's dispatch: its
    throttle, selector, renderer (so the same bytes) and headers. A client
    over its rate is left to the view, whose throttle refuses it from the
    count already made (`request.window_counted`: not counted twice) with its
    429 and Retry-After.

    The rate limit's count is sent to Redis before the database read and its
    reply read after it, so the two round trips overlap instead of adding up
    (`allow_request_started`). The price: a client over its rate costs one
    nearest read before its 429 (which costs more: DRF's whole dispatch)."""
    lon, lat, kind, limit = lookup

    def answer() -> HttpResponse:
        return json_response(nearest_plain(lon=lon, lat=lat, kind=kind, limit=limit))

    return answer_within_rate(request, view, answer)
