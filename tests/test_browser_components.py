"""A procedure configured with dossier components, submitted on a 390 px
phone in a real browser (Debian's chromium through Playwright) against the
project's own server: one upload slot per component with its rules, the
e-form drawn from its JSON Schema; the server (the authority, the browser's
hints switched off here) refuses a wrong citizen ID and a file type the slot
does not take, and says so next to the field and the slot; corrected, the
dossier is received with its files by component and the form stored.

The server is another process and sees only committed rows: the procedure,
its components, a commune desk and a citizen are committed here and removed
afterwards, with the dossier and the counts it added."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from playwright.sync_api import Browser, expect

from tests.browser import chromium, in_database, new_page, session_delete, session_key_for

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/dossier-components-phone.png")
UNIT_IDENTIFIER = "000.99.94.H94"
CITIZEN_ID = "027095004322"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x00" * 16
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SCHEMA = {
    "type": "object",
    "required": ["child_name", "birth_date", "mother"],
    "x-order": ["child_name", "birth_date", "mother"],
    "properties": {
        "child_name": {"type": "string", "title": "Họ, chữ đệm và tên người được khai sinh", "minLength": 2},
        "birth_date": {"type": "string", "format": "date", "title": "Ngày, tháng, năm sinh"},
        "mother": {
            "type": "object",
            "title": "Mẹ",
            "required": ["id_number"],
            "properties": {
                "id_number": {
                    "type": "string",
                    "title": "Số định danh cá nhân của mẹ",
                    "pattern": "^[0-9]{12}$",
                    "x-hint-vi": "12 chữ số",
                }
            },
        },
    },
}

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker) -> Iterator[dict]:
    from django.utils import timezone

    from dossiers.attachments import attachments_remove
    from dossiers.density_counts import density_rebuild
    from dossiers.models import Attachment, CodeCounter, DailyStat, Dossier, Procedure, ProcedureComponent, Sector
    from gisportal.accounts.models import Agency, Profile
    from gisportal.accounts.services import user_ensure
    from layers.models import ServicePoint, ServicePointKind

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        today = timezone.localdate()
        stats_before = list(DailyStat.objects.filter(day=today))
        sector = Sector.objects.create(code=f"components-{suffix}", name="Lĩnh vực thử nghiệm thành phần")
        procedure = Procedure.objects.create(
            code=f"9.94{int(suffix, 16) % 10000:04d}",
            name=f"Đăng ký khai sinh (thử thành phần {suffix})",
            sector=sector,
            agency=Agency.objects.get(code="so-tp"),
            level="province",
            online_level="full",
            processing_days=3,
        )
        for order, component in enumerate(
            [
                ProcedureComponent(
                    procedure=procedure, code="to-khai", name="Tờ khai đăng ký khai sinh", form_schema=SCHEMA
                ),
                ProcedureComponent(
                    procedure=procedure,
                    code="giay-chung-sinh",
                    name="Giấy chứng sinh",
                    accepted_types=["application/pdf"],
                ),
                ProcedureComponent(
                    procedure=procedure, code="cccd", name="Căn cước", group="giay-to", accepted_types=["image/png"]
                ),
                ProcedureComponent(
                    procedure=procedure, code="ho-chieu", name="Hộ chiếu", group="giay-to", accepted_types=["image/png"]
                ),
            ]
        ):
            component.order = order
            component.full_clean()
            component.save()
        desk = ServicePoint.objects.create(
            code=f"COMP-DESK-{suffix}",
            kind=ServicePointKind.COMMUNE_DESK,
            name=f"Bộ phận một cửa thử nghiệm {suffix}",
            address="Số 2 đường thử nghiệm",
            geom=Point(106.0763, 21.1861, srid=4326),
            receiving_unit_identifier=UNIT_IDENTIFIER,
        )
        citizen = user_ensure(username=f"components-citizen-{suffix}", password="x-Strong-pass-1", role="citizen")
        Profile.objects.filter(user=citizen).update(full_name="Phạm Thị Mai", id_number=CITIZEN_ID, phone="0912000222")
        session = session_key_for(citizen)
    try:
        yield {"procedure": procedure, "desk": desk, "session": session}
    finally:
        with django_db_blocker.unblock():
            session_delete(session)
            dossiers = Dossier.objects.filter(procedure=procedure)
            attachments_remove(
                list(Attachment.objects.filter(dossier__in=dossiers).values_list("stored_name", flat=True))
            )
            dossiers.delete()
            CodeCounter.objects.filter(unit_identifier=UNIT_IDENTIFIER).delete()
            DailyStat.objects.filter(day=today).delete()
            DailyStat.objects.bulk_create(stats_before)
            density_rebuild()
            procedure.delete()  # its components go with it
            sector.delete()
            desk.delete()
            citizen.delete()


@pytest.fixture(scope="module")
def browser(setup) -> Iterator[Browser]:
    yield from chromium()


@pytest.mark.django_db
def test_the_procedure_has_its_components(setup):
    # A database test first: pytest-django creates the test database when this module runs alone.
    assert setup["procedure"].components.count() == 4


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ("#component-to-khai", "#id-component-giay-chung-sinh", "#id-component-cccd", "#submit-button"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, (selector, box)


def test_components_and_eform_on_a_phone(setup, browser, live_server_url, django_db_blocker, tmp_path):
    from dossiers.models import Dossier, DossierEForm

    procedure, desk = setup["procedure"], setup["desk"]
    page, errors = new_page(browser, live_server_url, session_key=setup["session"], **PHONE)
    page.goto(f"{live_server_url}/procedures/{procedure.code}/submit/")
    expect(page.locator("#component-cccd .component-rules")).to_contain_text("Bắt buộc một trong: Căn cước; Hộ chiếu")
    expect(page.locator("label[for='id_eform-to-khai-mother-id_number']")).to_contain_text(
        "Số định danh cá nhân của mẹ"
    )
    _fits(page)

    pdf, png = tmp_path / "chung-sinh.pdf", tmp_path / "cccd.png"
    pdf.write_bytes(PDF)
    png.write_bytes(PNG)
    page.locator("#id_receiving_point").select_option(desk.code)
    page.locator("#id_applicant_address").fill("Số 12 phố Nguyễn Gia Thiều")
    page.locator("#id_eform-to-khai-child_name").fill("Phạm Văn An")
    page.locator("#id_eform-to-khai-birth_date").fill("2026-11-20")
    page.locator("#id_eform-to-khai-mother-id_number").fill("02709500")  # 8 digits
    page.locator("#id-component-giay-chung-sinh").set_input_files(str(png))  # the slot takes PDF only
    page.locator("#id-component-cccd").set_input_files(str(png))
    # The browser's hints would stop this; the server is the authority.
    page.evaluate("document.getElementById('submit-form').noValidate = true")
    page.locator("#submit-button").click()

    field = page.locator("[data-path='mother.id_number']")
    expect(field.locator(".field-error")).to_contain_text(
        "Số định danh cá nhân của mẹ: không đúng định dạng (12 chữ số)"
    )
    expect(page.locator("#component-giay-chung-sinh .field-error")).to_contain_text(
        "cccd.png: thành phần này chỉ nhận PDF"
    )
    expect(page.locator("#id_eform-to-khai-child_name")).to_have_value("Phạm Văn An")  # kept
    _fits(page)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert in_database(django_db_blocker, lambda: Dossier.objects.filter(procedure=procedure).count()) == 0

    page.locator("#id_eform-to-khai-mother-id_number").fill(CITIZEN_ID)
    page.locator("#id-component-giay-chung-sinh").set_input_files(str(pdf))
    page.locator("#id-component-cccd").set_input_files(str(png))
    page.locator("#submit-button").click()
    page.wait_for_url(f"{live_server_url}/dossiers/**")
    code = page.locator("#dossier-code").inner_text().strip()

    def stored():
        dossier = Dossier.objects.get(code=code)
        return (
            sorted(dossier.attachments.values_list("component_code", "content_type")),
            DossierEForm.objects.get(dossier=dossier).answers,
        )

    files, answers = in_database(django_db_blocker, stored)
    assert files == [("cccd", "image/png"), ("giay-chung-sinh", "application/pdf")]
    assert answers == {"child_name": "Phạm Văn An", "birth_date": "2026-11-20", "mother": {"id_number": CITIZEN_ID}}
    # The 422 answer itself is the one console message a refused form leaves.
    assert [e for e in errors if "422" not in e] == []
