"""The density planning page in a real browser (Debian's chromium through
Playwright) against the project's own server, on a 390 px phone: the first
map shows every dossier of the last twelve months; choosing a procedure,
a window of one month, moving the month slider with the keyboard or by hand,
typing dates and playing the months each redraw the map with the counts
expected for that period.

The server is another process and sees only committed rows: a sector, two
procedures, a commune desk of our own and a few dossiers received through
the service at known places and months are committed here and removed
afterwards, with the indicator counts they added. The expected counts are
made here: from the dossiers this module created (for one procedure) and
from every dossier's location through h3 (for the whole first map), never
from the density code."""

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import h3
import pytest
from playwright.sync_api import Browser, Page, expect

from dossiers.tests import conftest as dossier_fixtures
from tests.browser import chromium, new_page, session_delete, session_key_for

pytestmark = pytest.mark.browser

# The dossier tests' `submit` through the service with what it needs.
catalogue = dossier_fixtures.catalogue
points = dossier_fixtures.points
people = dossier_fixtures.people
submit = dossier_fixtures.submit

PHONE = {"width": 390, "height": 844}
PHONE_SCREENSHOT = "/tmp/density-phone.png"
RES = 8  # the page's default hexagon size
UNIT_IDENTIFIER = "000.99.94.H94"
CITIZEN_ID = "027095004322"
API_PATH = "/api/v1/analytics/density/"
# Places in the province, each in its own resolution-8 cell (checked below).
CITY = (106.0763, 21.1861)
TU_SON = (105.9560, 21.1180)
GIA_BINH = (106.2000, 21.0550)

expect.set_options(timeout=10_000)


def _month(day: dt.date, months_back: int) -> dt.date:
    """First day of the month `months_back` months before the month of `day`."""
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return _month(first, -1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Planned:
    procedure: str  # "a" or "b"
    months_back: int
    place: tuple[float, float]
    count: int


# Procedure A: last month and the month before. Procedure B: four months ago
# (two places), and fourteen months ago, outside the page's first twelve months.
PLAN = (
    Planned("a", 1, CITY, 3),
    Planned("a", 2, TU_SON, 2),
    Planned("b", 4, TU_SON, 2),
    Planned("b", 4, GIA_BINH, 2),
    Planned("b", 14, CITY, 2),
)


def _cell(place: tuple[float, float]) -> str:
    lon, lat = place
    return h3.latlng_to_cell(lat, lon, RES)


def _expected(rows: list[tuple[str, float, float, dt.date]], *, procedure: str | None, first: dt.date, last: dt.date):
    """(number of cells, number of dossiers) among (procedure, lon, lat, day) rows."""
    chosen = [
        (lon, lat) for code, lon, lat, day in rows if (procedure is None or code == procedure) and first <= day <= last
    ]
    return len({_cell(place) for place in chosen}), len(chosen)


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker) -> Iterator[dict]:
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from dossiers.density_counts import density_rebuild
    from dossiers.models import CodeCounter, DailyStat, Dossier, Procedure, Sector
    from dossiers.services import Submission, dossier_submit
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure
    from layers.models import ServicePoint, ServicePointKind

    assert len({_cell(place) for place in (CITY, TU_SON, GIA_BINH)}) == 3
    suffix = uuid.uuid4().hex[:8]
    zone = timezone.get_current_timezone()
    with django_db_blocker.unblock():
        today = timezone.localdate()
        days = sorted({_month(today, p.months_back) + dt.timedelta(days=14) for p in PLAN})
        # Receipts add to those days' indicator counts, which deleting the
        # dossiers does not take back: put them back afterwards.
        stats_before = list(DailyStat.objects.filter(day__in=days))
        sector = Sector.objects.create(code=f"h1-density-{suffix}", name="Lĩnh vực thử mật độ")
        common = {
            "sector": sector,
            "agency": Agency.objects.get(code="so-tp"),
            "level": "province",
            "online_level": "full",
            "processing_days": 3,
        }
        number = int(suffix, 16) % 10000
        procedures = {
            "a": Procedure.objects.create(code=f"9.94{number:04d}", name=f"Thủ tục mật độ A ({suffix})", **common),
            "b": Procedure.objects.create(code=f"9.93{number:04d}", name=f"Thủ tục mật độ B ({suffix})", **common),
        }
        desk = ServicePoint.objects.create(
            code=f"H1-DENSITY-{suffix}",
            kind=ServicePointKind.COMMUNE_DESK,
            name=f"Bộ phận một cửa thử mật độ {suffix}",
            address="Số 2 đường thử nghiệm",
            geom=Point(*CITY, srid=4326),
            receiving_unit_identifier=UNIT_IDENTIFIER,
        )
        officer = user_ensure(
            username=f"density-desk-{suffix}",
            password="x-Strong-pass-1",
            role="desk_officer",
            agency=Agency.objects.get(code="ttpvhcc"),
            service_point=desk,
        )
        leader = user_ensure(
            username=f"density-leader-{suffix}",
            password="x-Strong-pass-1",
            role="leader",
            agency=Agency.objects.get(code="so-tp"),
        )
        for planned in PLAN:
            day = _month(today, planned.months_back) + dt.timedelta(days=14)
            for _ in range(planned.count):
                dossier_submit(
                    submission=Submission(
                        procedure_code=procedures[planned.procedure].code,
                        applicant_name="Nguyễn Thị Mật Độ",
                        applicant_id_number=CITIZEN_ID,
                        applicant_address="Số 3 đường thử nghiệm",
                        channel=1,
                        lon=planned.place[0],
                        lat=planned.place[1],
                    ),
                    acting_user=officer,
                    received_at=dt.datetime.combine(day, dt.time(10), tzinfo=zone),
                )
        # Every dossier the server will count, ours and any others: (procedure, lon, lat, local day).
        codes = {procedure.code: key for key, procedure in procedures.items()}
        rows = [
            (codes.get(code, code), location.x, location.y, timezone.localtime(received_at).date())
            for code, location, received_at in Dossier.objects.filter(location__isnull=False).values_list(
                "procedure__code", "location", "received_at"
            )
        ]
        session = session_key_for(leader)
    try:
        yield {"today": today, "procedures": procedures, "rows": rows, "session": session}
    finally:
        with django_db_blocker.unblock():
            session_delete(session)
            Dossier.objects.filter(procedure__in=procedures.values()).delete()  # events go with them
            CodeCounter.objects.filter(unit_identifier=UNIT_IDENTIFIER).delete()
            DailyStat.objects.filter(day__in=days).delete()
            DailyStat.objects.bulk_create(stats_before)
            # The pre-counted density rows too: recounted from the dossiers left.
            density_rebuild()
            for procedure in procedures.values():
                procedure.delete()
            sector.delete()
            officer.delete()
            leader.delete()
            desk.delete()


@pytest.fixture(scope="module")
def browser(setup) -> Iterator[Browser]:
    # After `setup`: while Playwright runs, Django refuses database access in this thread.
    yield from chromium()


@pytest.mark.django_db
def test_the_slider_reaches_back_to_the_first_month_with_dossiers(client, make_user, submit):
    # A database test, so pytest-django runs it first, before `setup` and the
    # browser; it also makes pytest-django create the test database when this
    # module runs alone. Its dossiers are rolled back.
    from django.utils import timezone

    from dossiers.models import Dossier

    client.force_login(make_user("density-slider-leader", role="leader", agency="so-tp"))
    today = timezone.localdate()

    def slider() -> tuple[str, str]:
        html = client.get("/planning/density/").content.decode()
        found = re.search(r'id="f-month" type="range" min="0" max="(\d+)" step="1" value="(\d+)"', html)
        assert found, html
        assert f'value="{_month(today, 11):%Y-%m-%d}"' in html and f'value="{today:%Y-%m-%d}"' in html
        assert f"{_month(today, 11):%m/%Y} – {today:%m/%Y}</output>" in html
        return found.group(1), found.group(2)

    Dossier.objects.all().delete()
    assert slider() == ("24", "24")  # no dossier yet: two years back
    first = _month(today, 30) + dt.timedelta(days=20)
    submit(received_at=dt.datetime.combine(first, dt.time(9), tzinfo=timezone.get_current_timezone()))
    submit()
    assert slider() == ("30", "30")  # from the month of the first dossier to this one


def _expect_map(page: Page, cells: int, dossiers: int) -> None:
    """Wait until the map shows `cells` areas holding `dossiers` dossiers."""
    box = page.locator("#map")
    expect(box).to_have_attribute("data-total", str(dossiers))
    expect(box).to_have_attribute("data-features", str(cells))
    expect(box).to_have_attribute("aria-busy", "false")
    expect(page.locator("#map path.leaflet-interactive")).to_have_count(cells)
    if dossiers:
        # As a Vietnamese browser writes numbers: 1.234
        shown = f"{dossiers:,}".replace(",", ".")
        expect(page.locator("#density-status")).to_have_text(re.compile(rf"^{cells} \D+, {shown} \D+$"))


def _expect_period(page: Page, first: dt.date, last: dt.date, words: str) -> None:
    expect(page.locator("#f-from")).to_have_value(first.isoformat())
    expect(page.locator("#f-to")).to_have_value(last.isoformat())
    expect(page.locator("#f-month-text")).to_have_text(words)
    expect(page.locator("#f-month")).to_have_attribute("aria-valuetext", words)


def test_the_map_follows_the_filters_and_the_month_slider(setup, browser, live_server_url):
    today, rows = setup["today"], setup["rows"]
    procedure_b = setup["procedures"]["b"]
    page, errors = new_page(
        browser,
        live_server_url,
        session_key=setup["session"],
        viewport=PHONE,
        ignore_failed_loads_outside=live_server_url,
    )
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if API_PATH in request.url else None)
    page.goto(f"{live_server_url}/planning/density/")

    # The first map: every dossier of the last twelve whole months, to today.
    first = _month(today, 11)
    _expect_period(page, first, today, f"{first:%m/%Y} – {today:%m/%Y}")
    _expect_map(page, *_expected(rows, procedure=None, first=first, last=today))
    assert len(requests) == 1

    # One procedure: its two places four months ago.
    page.locator("#f-procedure").select_option(procedure_b.code)
    _expect_map(page, *_expected(rows, procedure="b", first=first, last=today))
    assert _expected(rows, procedure="b", first=first, last=today) == (2, 4)

    # A window of one month: this month, to today, has none of them.
    page.locator("#f-window").select_option("1")
    this_month = _month(today, 0)
    _expect_period(page, this_month, today, f"{this_month:%m/%Y}")
    _expect_map(page, 0, 0)
    expect(page.locator(".density-legend")).not_to_have_text(re.compile(r"\d"))

    # Four months back with the keyboard: one request for the four steps.
    slider = page.locator("#f-month")
    slider.focus()
    before = len(requests)
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    month = _month(today, 4)
    _expect_period(page, month, _month_end(month), f"{month:%m/%Y}")
    _expect_map(page, *_expected(rows, procedure="b", first=month, last=_month_end(month)))
    assert 1 <= len(requests) - before < 4
    assert f"from={month:%Y-%m-%d}" in requests[-1] and f"procedure={procedure_b.code}" in requests[-1]

    # Fourteen months back, three months wide, set as a script or an assistive tool would.
    page.locator("#f-window").select_option("3")
    slider.fill(str(int(slider.get_attribute("max")) - 14))
    month, first = _month(today, 14), _month(today, 16)
    _expect_period(page, first, _month_end(month), f"{first:%m/%Y} – {month:%m/%Y}")
    _expect_map(page, *_expected(rows, procedure="b", first=first, last=_month_end(month)))
    assert _expected(rows, procedure="b", first=first, last=_month_end(month)) == (1, 2)

    # Dates typed by hand still count, and the label shows them.
    first, last = _month(today, 14), _month_end(_month(today, 1))
    page.locator("#f-from").fill(first.isoformat())
    page.locator("#f-to").fill(last.isoformat())
    expect(page.locator("#f-month-text")).to_have_text(f"{first:%d/%m/%Y} – {last:%d/%m/%Y}")
    _expect_map(page, *_expected(rows, procedure="b", first=first, last=last))
    assert _expected(rows, procedure="b", first=first, last=last) == (3, 6)
    assert slider.input_value() == str(int(slider.get_attribute("max")) - 1)  # the slider follows `to`

    # Play: the last three months up to this one, then it stops by itself.
    play = page.locator("#f-play")
    play.click()
    expect(play).to_have_attribute("data-playing", "true")
    expect(play).to_have_text("Tạm dừng")  # "Pause", as the Vietnamese page says it
    expect(play).to_have_attribute("data-playing", "false")
    first = _month(today, 2)
    _expect_period(page, first, today, f"{first:%m/%Y} – {today:%m/%Y}")
    _expect_map(page, *_expected(rows, procedure="b", first=first, last=today))

    # It fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = slider.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.screenshot(path=PHONE_SCREENSHOT, full_page=True)
    assert errors == []
    page.context.close()
