"""GET /api/v1/service-points/nearest/ with procedure, open_at and rank
("where can I get this done, now"), checked against computations of our own:
the points that accept a procedure written out from the rules, geodesic
distances from pyproj, opening states written by hand from the calendar
(Tết 2026, the day off of 31 August 2026, its make-up Saturday 22 August), the
balanced score and the wait recomputed from the dossier rows; bad input 400
naming the parameter; query counts pinned."""

import datetime as dt
import math
import statistics
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone
from pyproj import Geod

from dossiers.models import OPEN_STATUSES, CalendarException, Dossier, DossierEvent, Procedure, Sector, Status
from gisportal.accounts.models import Agency
from layers.models import ServicePoint

NEAREST = "/api/v1/service-points/nearest/"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
GEOD = Geod(ellps="WGS84")
# A Wednesday with no holiday: every demo point is open at 10:00.
ALL_OPEN = dt.datetime(2026, 3, 11, 10, 0, tzinfo=HCM)
# Query spots: Bắc Ninh city, Bắc Giang city, the countryside between, and the edge.
SPOTS = [(106.07, 21.18), (106.20, 21.27), (106.35, 21.10), (106.60, 21.40), (105.95, 21.05)]


@pytest.fixture(autouse=True)
def fresh_cache():
    # The load figures are cached; each test starts from its own database state.
    cache.clear()
    yield
    cache.clear()


def _procedure(code: str, *, level: str, postal: bool, agency: str = "ubnd-xa") -> Procedure:
    sector, _ = Sector.objects.get_or_create(code="n12-test", defaults={"name": "Thử nghiệm"})
    return Procedure.objects.create(
        code=code,
        name=f"Thủ tục thử {code}",
        sector=sector,
        agency=Agency.objects.get(code=agency),
        level=level,
        online_level="partial",
        processing_days=3,
        postal_submission_allowed=postal,
    )


def _accepts(point: dict, *, level: str, postal: bool, committee_unit: str | None) -> bool:
    """The rules of issue 12 written out on their own (not the code's)."""
    if point["kind"] == "provincial_centre":
        return True
    if point["kind"] == "post_office":
        return postal
    if point["kind"] == "commune_desk":
        if level not in ("commune", "district"):
            return False
        return committee_unit is None or point["unit"] == committee_unit
    return False


def _points() -> list[dict]:
    return [
        {"code": code, "kind": kind, "lon": geom.x, "lat": geom.y, "unit": unit, "id": pk}
        for pk, code, kind, geom, unit in ServicePoint.objects.filter(is_active=True).values_list(
            "pk", "code", "kind", "geom", "admin_unit__code"
        )
    ]


def _by_geodesic(lon: float, lat: float, points: list[dict]) -> list[tuple[float, dict]]:
    ranked = [(GEOD.inv(lon, lat, p["lon"], p["lat"])[2], p) for p in points]
    return sorted(ranked, key=lambda pair: (pair[0], pair[1]["id"]))


def _get(api, **params):
    response = api.get(NEAREST, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_procedure_filter_equals_the_rules(api):
    committee = Agency.objects.create(
        code="n12-ubnd-09187", name="UBND phường Kinh Bắc (thử)", kind="peoples_committee", admin_unit_code="09187"
    )
    cases = [
        (_procedure("9.912001", level="commune", postal=True), None),
        (_procedure("9.912002", level="commune", postal=False), None),
        (_procedure("9.912003", level="province", postal=True, agency="so-tp"), None),
        (_procedure("9.912004", level="province", postal=False, agency="so-tp"), None),
        (_procedure("9.912005", level="district", postal=False, agency="ubnd-huyen"), None),
        (_procedure("9.912006", level="commune", postal=False, agency=committee.code), "09187"),
    ]
    points = _points()
    for procedure, committee_unit in cases:
        accepting = [
            p
            for p in points
            if _accepts(
                p, level=procedure.level, postal=procedure.postal_submission_allowed, committee_unit=committee_unit
            )
        ]
        assert accepting, procedure.code
        for lon, lat in SPOTS[:3]:
            body = _get(api, lon=lon, lat=lat, procedure=procedure.code, open_at=ALL_OPEN.isoformat(), limit=8)
            truth = _by_geodesic(lon, lat, accepting)[:8]
            got = body["features"]
            assert [f["properties"]["code"] for f in got] == [p["code"] for _, p in truth], (procedure.code, lon)
            for feature, (metres, _point) in zip(got, truth, strict=True):
                props = feature["properties"]
                assert props["distance_m"] == pytest.approx(metres, abs=0.2)
                assert props["accepts_procedure"] is True and props["open_now"] is True
            assert body["procedure"]["code"] == procedure.code
    # The kind asked for narrows the accepting points; a kind that does not accept gives nothing.
    body = _get(api, lon=106.07, lat=21.18, procedure="9.912002", kind="post_office", open_at=ALL_OPEN.isoformat())
    assert body["features"] == []
    body = _get(api, lon=106.07, lat=21.18, procedure="9.912006", kind="commune_desk", open_at=ALL_OPEN.isoformat())
    assert [f["properties"]["code"] for f in body["features"]] == ["DESK-09187"]


def test_the_demo_catalogue_sends_a_birth_registration_to_desks_centres_and_post(api):
    body = _get(api, lon=106.07, lat=21.18, procedure="1.001193", limit=50, open_at=ALL_OPEN.isoformat())
    kinds = {f["properties"]["kind"] for f in body["features"]}
    assert kinds == {"commune_desk", "provincial_centre", "post_office"}
    body = _get(api, lon=106.07, lat=21.18, procedure="2.000815", limit=50, open_at=ALL_OPEN.isoformat())
    assert {f["properties"]["kind"] for f in body["features"]} == {"commune_desk", "provincial_centre"}


def _state(api, code: str, moment: dt.datetime) -> tuple:
    point = ServicePoint.objects.get(code=code)
    body = _get(api, lon=point.geom.x, lat=point.geom.y, kind=point.kind, limit=50, open_at=moment.isoformat())
    props = next(f["properties"] for f in body["features"] if f["properties"]["code"] == code)
    return props["open_now"], props["opens_at"], props["closes_at"]


def _at(text: str) -> str:
    return dt.datetime.fromisoformat(text).replace(tzinfo=HCM).isoformat()


DESK, CENTRE, POST = "DESK-09187", "CENTRE-MAIN", "POST-09187"
# Hours of the demo points: desks Mo-Fr 07:30-11:30,13:30-17:00; the centre the
# same and Sa 07:30-11:30; post offices Mo-Su 07:00-19:00.
OPENING_CASES = [
    # Friday before Tết 2026 (holidays Mon 16 - Fri 20 February): the desk reopens Monday 23.
    (DESK, "2026-02-13 16:00", (True, "2026-02-23 07:30", "2026-02-13 17:00")),
    (CENTRE, "2026-02-13 16:00", (True, "2026-02-14 07:30", "2026-02-13 17:00")),
    # Tết: everything is closed, post offices too; the centre's Saturday 21 is an ordinary Saturday.
    (DESK, "2026-02-17 09:00", (False, "2026-02-23 07:30", "2026-02-23 11:30")),
    (CENTRE, "2026-02-17 09:00", (False, "2026-02-21 07:30", "2026-02-21 11:30")),
    (POST, "2026-02-17 09:00", (False, "2026-02-21 07:00", "2026-02-21 19:00")),
    # Lunch break on an ordinary Friday.
    (DESK, "2026-08-28 12:00", (False, "2026-08-28 13:30", "2026-08-28 17:00")),
    (POST, "2026-08-28 12:00", (True, "2026-08-29 07:00", "2026-08-28 19:00")),
    # Saturday 22 August 2026 is worked in exchange for Monday 31 August: a full Friday's hours.
    (DESK, "2026-08-22 09:00", (True, "2026-08-22 13:30", "2026-08-22 11:30")),
    (DESK, "2026-08-22 15:00", (True, "2026-08-24 07:30", "2026-08-22 17:00")),
    (CENTRE, "2026-08-22 15:00", (True, "2026-08-24 07:30", "2026-08-22 17:00")),
    # An ordinary Saturday: desks closed until Thursday (31 Aug off, 1-2 September National Day).
    (DESK, "2026-08-29 09:00", (False, "2026-09-03 07:30", "2026-09-03 11:30")),
    (CENTRE, "2026-08-29 09:00", (True, "2026-09-03 07:30", "2026-08-29 11:30")),
    # The moved day off.
    (DESK, "2026-08-31 09:00", (False, "2026-09-03 07:30", "2026-09-03 11:30")),
    (POST, "2026-08-31 20:00", (False, "2026-09-03 07:00", "2026-09-03 19:00")),
]


@pytest.mark.parametrize(("code", "moment", "expected"), OPENING_CASES)
def test_opening_state_by_hand(api, code, moment, expected):
    CalendarException.objects.filter(date__range=(dt.date(2026, 2, 1), dt.date(2026, 9, 30))).delete()
    open_now, opens_at, closes_at = expected
    got = _state(api, code, dt.datetime.fromisoformat(moment).replace(tzinfo=HCM))
    assert got == (open_now, _at(opens_at), _at(closes_at))


def test_calendar_exceptions_of_the_administrator_apply(api):
    # A local day off on a Wednesday, and a Sunday worked instead.
    CalendarException.objects.create(date=dt.date(2026, 3, 11), kind="day_off")
    CalendarException.objects.create(date=dt.date(2026, 3, 15), kind="working_day")
    assert _state(api, DESK, ALL_OPEN) == (False, _at("2026-03-12 07:30"), _at("2026-03-12 11:30"))
    assert _state(api, POST, ALL_OPEN)[0] is False
    sunday = dt.datetime(2026, 3, 15, 14, 0, tzinfo=HCM)
    assert _state(api, DESK, sunday) == (True, _at("2026-03-16 07:30"), _at("2026-03-15 17:00"))


def test_open_points_come_first_then_by_distance(api):
    # Certification of copies: desks and centres, not by post. On an ordinary
    # Saturday morning the centres are open and the desks closed.
    desk = ServicePoint.objects.get(code=DESK)
    saturday = dt.datetime(2026, 8, 29, 9, 0, tzinfo=HCM)
    body = _get(api, lon=desk.geom.x, lat=desk.geom.y, procedure="2.000815", open_at=saturday.isoformat())
    features = [f["properties"] for f in body["features"]]
    states = [f["open_now"] for f in features]
    assert states == sorted(states, reverse=True) and states[0] and not states[-1]
    assert {f["kind"] for f in features if f["open_now"]} == {"provincial_centre"}
    for group in (True, False):
        distances = [f["distance_m"] for f in features if f["open_now"] is group]
        assert distances == sorted(distances)
    # The desk itself (0 m) is closed: the open centre of the same ward comes first.
    assert features[0]["code"] == "CENTRE-KINHBAC"
    assert next(f for f in features if not f["open_now"])["code"] == DESK
    assert body["query"]["open_at"] == "2026-08-29T09:00:00+07:00"
    # The plain look-up still ranks by distance alone.
    plain = _get(api, lon=desk.geom.x, lat=desk.geom.y)
    assert plain["features"][0]["properties"]["code"] == DESK
    assert "open_now" not in plain["features"][0]["properties"]


def test_naive_open_at_is_vietnam_time(api):
    naive = _get(api, lon=106.07, lat=21.18, open_at="2026-08-29T09:00")
    utc = _get(api, lon=106.07, lat=21.18, open_at="2026-08-29T02:00:00Z")
    assert naive["query"]["open_at"] == utc["query"]["open_at"] == "2026-08-29T09:00:00+07:00"
    assert naive["features"] == utc["features"]


def test_open_at_defaults_to_now(api):
    before = timezone.now()
    body = _get(api, lon=106.07, lat=21.18, rank="distance")
    asked = dt.datetime.fromisoformat(body["query"]["open_at"])
    assert before <= asked <= timezone.now()
    assert asked.utcoffset() == dt.timedelta(hours=7)


@pytest.fixture
def loaded(db):
    """A small dossier history (open dossiers and hand-overs at the points)."""
    from dossiers.demo_history import dossier_history_generate
    from dossiers.demo_setup import commune_committees_ensure

    commune_committees_ensure()
    dossier_history_generate(count=3000, years=1, seed=12)
    # The open dossiers of the busiest desk are still at the desk, so that its
    # wait is more than the floor.
    busiest = (
        Dossier.objects.filter(status__in=OPEN_STATUSES, receiving_point__kind="commune_desk")
        .values("receiving_point")
        .annotate(n=Count("pk"))
        .order_by("-n", "receiving_point")
        .first()["receiving_point"]
    )
    Dossier.objects.filter(status__in=OPEN_STATUSES, receiving_point=busiest).update(status=Status.RECEIVED)
    return ServicePoint.objects.get(pk=busiest)


def _independent_loads() -> dict[str, dict]:
    loads = {}
    since = timezone.now() - dt.timedelta(days=30)
    for point in ServicePoint.objects.filter(is_active=True):
        dossiers = Dossier.objects.filter(receiving_point=point)
        open_count = dossiers.filter(status__in=OPEN_STATUSES).count()
        at_desk = dossiers.filter(status=Status.RECEIVED).count()
        handovers = [
            (event.at - event.dossier.received_at).total_seconds() / 60
            for event in DossierEvent.objects.filter(
                dossier__receiving_point=point, dossier__received_at__gte=since, action="assign"
            ).select_related("dossier")
        ]
        minutes = min(max(statistics.median(handovers), 3.0), 60.0) if handovers else 15.0
        loads[point.code] = {
            "open": open_count,
            "at_desk": at_desk,
            "per_counter": open_count / point.counters,
            "minutes": minutes,
            "wait": max(5, math.ceil(at_desk / point.counters * minutes)),
        }
    return loads


def test_balanced_ranking_and_wait_by_hand(api, loaded):
    loads = _independent_loads()
    assert loads[loaded.code]["at_desk"] >= 3 and loads[loaded.code]["wait"] > 5
    points = _points()
    for lon, lat in SPOTS:
        body = _get(api, lon=lon, lat=lat, rank="balanced", limit=6, open_at=ALL_OPEN.isoformat())
        assert body["ranking"]["by"] == "balanced"
        assert body["ranking"]["penalty_m_per_queued_dossier"] == 100.0
        # The pool: the 18 (3 × limit) nearest points; then by score = metres + 100 m per open dossier per counter.
        pool = _by_geodesic(lon, lat, points)[:18]
        scored = sorted(
            ((metres + 100.0 * loads[p["code"]]["per_counter"], metres, p["id"], p["code"]) for metres, p in pool)
        )[:6]
        got = body["features"]
        assert [f["properties"]["code"] for f in got] == [code for *_rest, code in scored]
        for feature, (score, metres, _id, code) in zip(got, scored, strict=True):
            props = feature["properties"]
            assert props["score_m"] == pytest.approx(score, abs=0.2)
            assert props["distance_m"] == pytest.approx(metres, abs=0.2)
            assert props["load"]["open_dossiers"] == loads[code]["open"]
            assert props["load"]["at_desk"] == loads[code]["at_desk"]
            assert props["load"]["per_counter"] == pytest.approx(loads[code]["per_counter"], abs=0.006)
            assert props["minutes_per_dossier"] == pytest.approx(loads[code]["minutes"], abs=0.06)
            assert props["estimated_wait_min"] == loads[code]["wait"]
    desk = loaded
    body = _get(api, lon=desk.geom.x, lat=desk.geom.y, kind="commune_desk", limit=1, open_at=ALL_OPEN.isoformat())
    assert body["features"][0]["properties"]["estimated_wait_min"] == loads[desk.code]["wait"]
    # Ranking by distance reports no score.
    assert body["features"][0]["properties"]["score_m"] is None


def test_load_is_a_cached_figure(api, loaded):
    desk = loaded
    params = {"lon": desk.geom.x, "lat": desk.geom.y, "kind": "commune_desk", "limit": 1, "rank": "distance"}
    first = _get(api, **params)["features"][0]["properties"]["load"]["open_dossiers"]
    Dossier.objects.filter(receiving_point=desk, status__in=OPEN_STATUSES).update(status=Status.WITHDRAWN)
    assert _get(api, **params)["features"][0]["properties"]["load"]["open_dossiers"] == first > 0
    cache.clear()  # as when the figure expires
    assert _get(api, **params)["features"][0]["properties"]["load"]["open_dossiers"] == 0


@pytest.mark.parametrize(
    ("params", "queries"),
    [
        ({}, 1),  # the plain look-up, as before
        ({"rank": "distance"}, 2),  # points, calendar
        ({"rank": "balanced", "open_at": "2026-08-22T09:00"}, 2),
        ({"procedure": "1.001193"}, 3),  # procedure, points, calendar
    ],
)
def test_query_count_is_pinned(api, django_assert_num_queries, params, queries):
    url_params = {"lon": 106.07, "lat": 21.18, "limit": 50, **params}
    if params:
        with django_assert_num_queries(queries + 2):  # the load figures, counted once a minute
            assert api.get(NEAREST, url_params).status_code == 200
    with django_assert_num_queries(queries):
        response = api.get(NEAREST, url_params)
    assert response.status_code == 200
    assert len(response.json()["features"]) == 50


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"procedure": "9.999999"}, {"procedure"}),
        ({"procedure": "khai sinh"}, {"procedure"}),
        ({"open_at": "tomorrow"}, {"open_at"}),
        ({"open_at": "2026-02-30T10:00"}, {"open_at"}),
        ({"open_at": "1999-12-31T23:00:00Z"}, {"open_at"}),
        ({"open_at": "0001-01-01T00:00:00+05:00"}, {"open_at"}),
        ({"open_at": "2100-01-01T08:00"}, {"open_at"}),
        ({"rank": "fastest"}, {"rank"}),
        ({"rank": "balanced", "open_at": "x", "kind": "bank", "limit": "0"}, {"open_at", "kind", "limit"}),
        ({"rank": " "}, {"rank"}),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api, params, bad):
    response = api.get(NEAREST, {"lon": 106.07, "lat": 21.18, **params})
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == bad
    for messages in body.values():
        assert all(" / " in m for m in messages)  # Vietnamese / English


def test_demo_opening_hours_all_parse(db):
    from opening_hours import OpeningHours

    for text in set(ServicePoint.objects.values_list("opening_hours", flat=True)):
        OpeningHours(text)  # raises on a string the library cannot read
