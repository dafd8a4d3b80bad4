"""Routing and deadlines of feedback reports.

Routing: the 2025 commune containing the point is found by shapely on the
stored polygons, independently of PostGIS, and the report goes to that
commune's people's committee (local matters) or to the department of the
category's sector; a point just outside the province within the margin goes
to the nearest commune, farther out it is refused. Addresses typed without
diacritics find their commune, also by a 2019 name.

Deadlines (Decision 766: refuse 2, ask 5, answer 15, publish 2 working days)
are checked against dates counted by hand on the calendar, Tết 2026 (days off
Saturday 14 to Sunday 22 February) included."""

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely import wkb
from shapely.ops import nearest_points

from feedback.errors import FeedbackInputError
from feedback.models import Category, Feedback, FeedbackEvent
from feedback.selectors import agency_responsible, commune_at, places_match
from feedback.services import deadlines, feedback_transition
from gisportal.accounts.models import Agency
from layers.models import AdministrativeUnit

from .conftest import KINH_BAC, LOCAL, SECTOR

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
GEOD = Geod(ellps="WGS84")


def local(y, m, d, hour=10, minute=0):
    return dt.datetime(y, m, d, hour, minute, tzinfo=HCM)


@pytest.fixture
def polygons(db) -> dict[str, shapely.Geometry]:
    units = AdministrativeUnit.objects.filter(era="2025", level="commune").only("code", "geom")
    return {u.code: wkb.loads(bytes(u.geom.wkb)) for u in units}


def test_reports_go_to_the_commune_that_contains_them_as_shapely_finds_it(polygons):
    rng = np.random.default_rng(12)
    union = shapely.union_all(list(polygons.values()))
    minx, miny, maxx, maxy = union.bounds
    local_category = Category.objects.get(code=LOCAL)
    sector_category = Category.objects.get(code=SECTOR)
    department = Agency.objects.get(code="so-nnmt")
    checked = 0
    while checked < 40:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        point = shapely.Point(lon, lat)
        inside = [code for code, polygon in polygons.items() if polygon.contains(point)]
        if len(inside) != 1:
            continue
        commune = commune_at(lon=lon, lat=lat)
        assert commune.code == inside[0], (lon, lat)
        committee = agency_responsible(category=local_category, commune=commune)
        assert (committee.kind, committee.admin_unit_code) == ("peoples_committee", inside[0])
        assert agency_responsible(category=sector_category, commune=commune) == department
        checked += 1


def test_a_point_just_outside_the_province_goes_to_the_nearest_commune_and_one_far_out_is_refused(polygons, report):
    union = shapely.union_all(list(polygons.values()))
    centre = union.centroid
    # Walk east from the centre to the province's edge, then 400 m further.
    edge_lon = max(x for x, y in union.exterior.coords if abs(y - centre.y) < 0.02)
    lon, _lat, _ = GEOD.fwd(edge_lon, centre.y, 90, 400)
    outside = shapely.Point(lon, centre.y)
    assert not union.contains(outside)
    nearest = min(polygons, key=lambda code: polygons[code].distance(outside))
    near = nearest_points(polygons[nearest], outside)[0]
    _, _, metres = GEOD.inv(near.x, near.y, outside.x, outside.y)
    assert metres < 1000
    made = report(lon=outside.x, lat=outside.y)
    assert made.commune.code == nearest

    before = Feedback.objects.count()
    with pytest.raises(FeedbackInputError) as refused:
        report(lon=105.5, lat=21.0)  # west of Hà Nội
    assert set(refused.value.errors) == {"location"}
    assert Feedback.objects.count() == before


@pytest.mark.parametrize(
    "typed, code",
    [
        ("so 5 ngo 3, phuong kinh bac, tinh bac ninh", KINH_BAC),
        ("Số 5, Phường Kinh Bắc", KINH_BAC),
        ("THON DONG, XA TAN YEN", "07339"),
        ("thôn Đông, xã Tân Yên", "07339"),
    ],
)
def test_an_address_typed_without_diacritics_finds_its_commune(db, typed, code):
    assert places_match(q=typed)[0].commune.code == code


def test_an_old_commune_name_finds_the_commune_that_absorbed_it(db):
    old = (
        AdministrativeUnit.objects.filter(era="2019", level="commune", successor_links__successor__code=KINH_BAC)
        .exclude(name__icontains="Kinh Bắc")
        .order_by("code")
        .first()
    )
    found = places_match(q=f"ngo 7 phuong {old.name}")
    assert found[0].commune.code == KINH_BAC and found[0].matched_name == old.name


def test_an_address_report_sits_at_its_communes_representative_point(report, polygons):
    made = report(lon=None, lat=None, address_text="truoc cong cho, phuong Kinh Bac")
    assert made.commune.code == KINH_BAC and made.location_source == "address"
    assert polygons[KINH_BAC].contains(shapely.Point(made.location.x, made.location.y))
    with pytest.raises(FeedbackInputError) as refused:
        report(lon=None, lat=None, address_text="123 Main Street, Springfield")
    assert set(refused.value.errors) == {"address"}


@pytest.mark.parametrize(
    "received, refuse, info, answer",
    [
        # Monday 1 December 2025, 9:00: counted from that day.
        (local(2025, 12, 1, 9), local(2025, 12, 3, 17), local(2025, 12, 8, 17), local(2025, 12, 22, 17)),
        # Thursday before Tết 2026: 13/2, then nothing until Monday 23/2.
        (local(2026, 2, 12, 10), local(2026, 2, 23, 17), local(2026, 2, 26, 17), local(2026, 3, 12, 17)),
        # The same Thursday after closing time: counted from Friday 13/2.
        (local(2026, 2, 12, 18), local(2026, 2, 24, 17), local(2026, 2, 27, 17), local(2026, 3, 13, 17)),
        # Received during Tết: counted from Monday 23/2.
        (local(2026, 2, 18, 9), local(2026, 2, 25, 17), local(2026, 3, 2, 17), local(2026, 3, 16, 17)),
    ],
)
def test_deadlines_are_working_days_counted_by_hand(db, received, refuse, info, answer):
    from dossiers.calendar import working_calendar

    due = deadlines(working_calendar(), received)
    assert (due["refuse_due_at"], due["info_due_at"], due["answer_due_at"]) == (refuse, info, answer)


def test_a_report_keeps_its_deadlines_and_moves_them_by_the_working_days_spent_waiting(people, report):
    made = report()
    Feedback.objects.filter(pk=made.pk).update(
        received_at=local(2025, 12, 1, 9),
        refuse_due_at=local(2025, 12, 3, 17),
        info_due_at=local(2025, 12, 8, 17),
        answer_due_at=local(2025, 12, 22, 17),
        due_at=local(2025, 12, 3, 17),
    )
    pid = made.public_id
    feedback_transition(public_id=pid, action="accept", acting_user=people.processor, at=local(2025, 12, 1, 14))
    assert Feedback.objects.get(pk=made.pk).due_at == local(2025, 12, 22, 17)
    feedback_transition(
        public_id=pid, action="request_info", acting_user=people.processor, note="Số nhà?", at=local(2025, 12, 2, 10)
    )
    assert Feedback.objects.get(pk=made.pk).due_at is None  # waiting for the reporter
    # Waiting 3, 4 and 5 December: three working days added to 22 December.
    feedback_transition(
        public_id=pid, action="provide_info", acting_user=people.reporter, note="Số 12", at=local(2025, 12, 5, 10)
    )
    made.refresh_from_db()
    assert (made.answer_due_at, made.due_at, made.paused_working_days) == (
        local(2025, 12, 25, 17),
        local(2025, 12, 25, 17),
        3,
    )
    # Answered on Friday 19 December: the answer is to be published by Tuesday 23.
    feedback_transition(
        public_id=pid, action="answer", acting_user=people.processor, note="Đã vá.", at=local(2025, 12, 19, 15)
    )
    made.refresh_from_db()
    assert made.publish_due_at == local(2025, 12, 23, 17) == made.due_at


def test_answering_before_tet_is_published_after_it(people, report):
    made = report()
    feedback_transition(public_id=made.public_id, action="accept", acting_user=people.processor)
    feedback_transition(
        public_id=made.public_id, action="answer", acting_user=people.processor, note="x", at=local(2026, 2, 13, 15)
    )
    made.refresh_from_db()
    assert made.publish_due_at == local(2026, 2, 24, 17)  # Friday 13/2, then 23 and 24 February


def test_a_transfer_keeps_the_deadlines_and_names_both_agencies(people, report):
    made = report()
    due = (made.refuse_due_at, made.answer_due_at)
    feedback_transition(
        public_id=made.public_id,
        action="transfer",
        acting_user=people.processor,
        note="Thuộc Sở Y tế",
        agency_code="so-y-te",
    )
    made.refresh_from_db()
    assert made.agency.code == "so-y-te" and (made.refuse_due_at, made.answer_due_at) == due
    event = FeedbackEvent.objects.get(feedback=made, action="transfer")
    assert (event.from_agency.code, event.to_agency.code, event.actor) == (
        f"ubnd-{KINH_BAC}",
        "so-y-te",
        people.processor,
    )
