"""The steps after submission (issue #15) in a real browser on a 390 px
phone (Debian's chromium through Playwright) against the project's own
server: a desk officer assigns the dossier to a named officer, who finds it
under "Assigned to me"; the citizen hands in a supplement with a file and
the officer sees what changed; the officer attaches the result PDF; once the
leader approved it and the desk returned it, the citizen downloads it from
the dossier page (the bytes compared by SHA-256). No page sticks out
sideways at 390 px.

Moves that are not under test (start, ask for a supplement, approve, return)
go through the services between the browser steps. The server sees only
committed rows: everything made here is removed afterwards, with the files
and the indicator counts the dossier added."""

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, in_database, new_page, session_delete, session_key_for

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
UNIT_IDENTIFIER = "000.99.94.H94"
CITIZEN_ID = "027095004322"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
RESULT_PDF = b"%PDF-1.4\n% ket qua dien tu\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SCREENSHOTS = Path("/tmp")

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker) -> Iterator[dict]:
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from dossiers.attachments import attachments_remove
    from dossiers.density_counts import density_rebuild
    from dossiers.models import Attachment, CodeCounter, DailyStat, Dossier, Procedure, ResultDocument, Sector
    from dossiers.services import Submission, dossier_submit
    from gisportal.accounts.models import Agency, Profile
    from gisportal.accounts.services import user_ensure
    from layers.models import ServicePoint, ServicePointKind

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        today = timezone.localdate()
        stats_before = list(DailyStat.objects.filter(day=today))
        so_tp = Agency.objects.get(code="so-tp")
        sector = Sector.objects.create(code=f"h15-browser-{suffix}", name="Lĩnh vực thử nghiệm #15")
        procedure = Procedure.objects.create(
            code=f"9.94{int(suffix, 16) % 10000:04d}",
            name=f"Cấp phiếu lý lịch tư pháp (thử {suffix})",
            sector=sector,
            agency=so_tp,
            level="province",
            online_level="full",
            processing_days=3,
        )
        desk = ServicePoint.objects.create(
            code=f"H15-DESK-{suffix}",
            kind=ServicePointKind.COMMUNE_DESK,
            name=f"Bộ phận một cửa thử nghiệm {suffix}",
            address="Số 2 đường thử nghiệm",
            geom=Point(106.0763, 21.1861, srid=4326),
            receiving_unit_identifier=UNIT_IDENTIFIER,
        )

        def person(role: str, name: str, **extra):
            user = user_ensure(username=f"h15-{role}-{suffix}", password="x-Strong-pass-1", role=role, **extra)
            Profile.objects.filter(user=user).update(full_name=name)
            return type(user).objects.select_related("profile").get(pk=user.pk)  # with the name just set

        citizen = person("citizen", "Phạm Thị Lan")
        Profile.objects.filter(user=citizen).update(id_number=CITIZEN_ID)
        citizen = type(citizen).objects.select_related("profile").get(pk=citizen.pk)
        clerk = person("desk_officer", "Lê Văn Bàn", agency=Agency.objects.get(code="ttpvhcc"), service_point=desk)
        officer = person("processing_officer", "Trần Xử Lý", agency=so_tp)
        leader = person("leader", "Ngô Lãnh Đạo", agency=so_tp)
        dossier, _ = dossier_submit(
            submission=Submission(
                procedure_code=procedure.code,
                applicant_name="Phạm Thị Lan",
                applicant_id_number=CITIZEN_ID,
                applicant_address="Số 12 phố Nguyễn Gia Thiều",
                channel=2,
                receiving_point_code=desk.code,
            ),
            acting_user=citizen,
        )
        # Issue #15: an online dossier waits for receipt; the desk receives it first.
        from dossiers.services import dossier_transition

        dossier_transition(code=dossier.code, action="receive", acting_user=clerk)
        sessions = {
            name: session_key_for(user)
            for name, user in {"citizen": citizen, "clerk": clerk, "officer": officer}.items()
        }
    try:
        yield {
            "dossier": dossier.code,
            "citizen": citizen,
            "clerk": clerk,
            "officer": officer,
            "leader": leader,
            "sessions": sessions,
        }
    finally:
        with django_db_blocker.unblock():
            for key in sessions.values():
                session_delete(key)
            dossiers = Dossier.objects.filter(procedure=procedure)
            stored = list(Attachment.objects.filter(dossier__in=dossiers).values_list("stored_name", flat=True))
            stored += list(ResultDocument.objects.filter(dossier__in=dossiers).values_list("stored_name", flat=True))
            attachments_remove(stored)
            dossiers.delete()
            CodeCounter.objects.filter(unit_identifier=UNIT_IDENTIFIER).delete()
            DailyStat.objects.filter(day=today).delete()
            DailyStat.objects.bulk_create(stats_before)
            density_rebuild()
            procedure.delete()
            sector.delete()
            for user in (citizen, clerk, officer, leader):
                user.delete()
            desk.delete()


@pytest.fixture(scope="module")
def browser(setup) -> Iterator[Browser]:
    yield from chromium()


@pytest.mark.django_db
def test_the_forms_answer_no_one_signed_out(setup, client):
    # Runs first, before the browser starts; being a database test it also
    # makes pytest-django create the test database when this module runs alone.
    code = setup["dossier"]
    for form in ("assign", "result", "supplement"):
        response = client.post(f"/dossiers/{code}/{form}/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], form


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url


def _move(django_db_blocker, code: str, steps) -> None:
    from dossiers.services import dossier_transition

    def run():
        for action, user, note in steps:
            dossier_transition(code=code, action=action, acting_user=user, note=note)

    in_database(django_db_blocker, run)


def test_assign_supplement_result_on_a_phone(setup, browser, live_server_url, django_db_blocker, tmp_path):
    code, sessions = setup["dossier"], setup["sessions"]
    dossier_url = f"{live_server_url}/dossiers/{code}/"

    # 1. The desk assigns the dossier to a named officer of the agency handling it.
    clerk, clerk_errors = new_page(browser, live_server_url, session_key=sessions["clerk"], **PHONE)
    clerk.goto(dossier_url)
    expect(clerk.locator("#assigned-to")).to_contain_text("Chưa giao")
    clerk.locator("#assign-officer").select_option(setup["officer"].username)
    clerk.locator("#assign-note").fill("Xử lý trong tuần")
    _fits(clerk)
    clerk.screenshot(path=str(SCREENSHOTS / "dossier-assign-phone.png"), full_page=True)
    clerk.locator("#assign-form button[type=submit]").click()
    clerk.wait_for_url(dossier_url)
    expect(clerk.locator("#assigned-to")).to_contain_text("Trần Xử Lý")
    expect(clerk.locator('#timeline [data-action="assign_officer"]')).to_have_count(1)
    assert clerk_errors == []

    # ... who finds it in their own queue.
    officer, officer_errors = new_page(browser, live_server_url, session_key=sessions["officer"], **PHONE)
    officer.goto(f"{live_server_url}/worklist/")
    officer.locator("#tab-mine").click()
    officer.wait_for_url("**/worklist/?assigned=me")
    expect(officer.locator(f'#worklist tr[data-code="{code}"]')).to_have_count(1)
    _fits(officer)
    officer.screenshot(path=str(SCREENSHOTS / "worklist-mine-phone.png"), full_page=True)

    # 2. Asked for a supplement, the citizen uploads the missing file.
    _move(
        django_db_blocker,
        code,
        [
            ("assign", setup["clerk"], ""),
            ("start", setup["officer"], ""),
            ("request_supplement", setup["officer"], "Thiếu bản sao giấy khai sinh"),
        ],
    )
    citizen, citizen_errors = new_page(browser, live_server_url, session_key=sessions["citizen"], **PHONE)
    citizen.goto(dossier_url)
    expect(citizen.locator("#supplement-asked")).to_contain_text("Thiếu bản sao giấy khai sinh")
    missing = tmp_path / "ban-sao-khai-sinh.pdf"
    missing.write_bytes(PDF)
    citizen.locator("#supplement-files").set_input_files(str(missing))
    citizen.locator("#supplement-note").fill("Gửi bản sao")
    _fits(citizen)
    citizen.screenshot(path=str(SCREENSHOTS / "dossier-supplement-phone.png"), full_page=True)
    citizen.locator("#supplement-form button[type=submit]").click()
    citizen.wait_for_url(dossier_url)
    expect(citizen.locator("#dossier-status")).to_have_text("Đã bổ sung")
    expect(citizen.locator("#attachments")).to_contain_text("ban-sao-khai-sinh.pdf")

    # ... and the officer sees what changed since the request.
    officer.goto(dossier_url)
    expect(officer.locator("#supplement-files-added")).to_contain_text("ban-sao-khai-sinh.pdf")
    expect(officer.locator("#supplement-answered")).to_contain_text("Phạm Thị Lan")
    _fits(officer)

    # 3. The officer attaches the result PDF.
    _move(django_db_blocker, code, [("start", setup["officer"], "")])
    officer.goto(dossier_url)
    result = tmp_path / "Phiếu lý lịch tư pháp.pdf"
    result.write_bytes(RESULT_PDF)
    officer.locator("#result-file").set_input_files(str(result))
    officer.locator("#result-form button[type=submit]").click()
    officer.wait_for_url(dossier_url)
    expect(officer.locator("#result-download")).to_contain_text("Phiếu lý lịch tư pháp.pdf")
    expect(officer.locator("#result-approval")).to_contain_text("Chưa phê duyệt")
    _fits(officer)
    officer.screenshot(path=str(SCREENSHOTS / "dossier-result-phone.png"), full_page=True)
    assert officer_errors == []

    # Not for the citizen before it is returned.
    citizen.goto(dossier_url)
    expect(citizen.locator("#result-download")).to_have_count(0)

    # 4. Approved, ready, returned: the citizen downloads it from the dossier page.
    _move(
        django_db_blocker,
        code,
        [
            ("approve", setup["leader"], ""),
            ("mark_result_ready", setup["officer"], ""),
            ("return_result", setup["clerk"], ""),
        ],
    )
    citizen.goto(dossier_url)
    expect(citizen.locator("#result-approval")).to_contain_text("Ngô Lãnh Đạo")
    expect(citizen.locator("#result-approval")).to_contain_text(hashlib.sha256(RESULT_PDF).hexdigest())
    _fits(citizen)
    citizen.screenshot(path=str(SCREENSHOTS / "dossier-result-citizen-phone.png"), full_page=True)
    with citizen.expect_download() as download_info:
        citizen.locator("#result-download").click()
    download = download_info.value
    assert download.suggested_filename == "Phiếu lý lịch tư pháp.pdf"
    assert hashlib.sha256(Path(download.path()).read_bytes()).hexdigest() == hashlib.sha256(RESULT_PDF).hexdigest()
    assert citizen_errors == []
