"""GET /api/v1/service-points/nearest/: the nearest service points, and with
`procedure`, `open_at` or `rank` the answer to "where can I get this done,
now" (`maps.nearest.nearest_help`). Without those three it is the plain
geodesic look-up of `layers` it has always been, at the same cost."""

import datetime as dt

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from gisportal.api import BadParameters, PublicApiView, QueryParams, message
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
    """The hottest read of the portal. The plain look-up (none of `procedure`,
    `open_at`, `rank`) with valid parameters is answered by `plain_answer`
    without DRF's request wrapper, Response and finalisation: the same
    parameter reading, the same throttle, the same selector, the same
    renderer (so the same bytes) and the same headers; bench/nearest.py
    measures what that saves. Everything else (the "now" answers, a 400, a
    429, HEAD, OPTIONS) goes through DRF's `dispatch` as before."""

    def dispatch(self, request, *args, **kwargs):
        if request.method == "GET":
            answer = self.plain_answer(request)
            if answer is not None:
                return answer
        return super().dispatch(request, *args, **kwargs)

    def plain_answer(self, request) -> HttpResponse | None:
        """The plain answer, or None when DRF must answer: help parameters,
        a bad parameter (DRF's 400 names it) or the client over its rate
        (a refused throttle records no hit, so DRF refuses it the same way
        with its 429 and Retry-After)."""
        params = QueryParams(request.GET)
        lon, lat, kind, limit = nearest_params(params)
        if any(params.raw(name) is not None for name in HELP_PARAMETERS) or params.errors:
            return None
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                return None
        body = JSONRenderer().render(nearest_plain(lon=lon, lat=lat, kind=kind, limit=limit))
        response = HttpResponse(body, content_type=JSONRenderer.media_type)
        for header, value in self.default_response_headers.items():
            response[header] = value
        return response

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
