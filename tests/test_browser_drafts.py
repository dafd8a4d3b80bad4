"""Drafts and the document store on a 390 px phone, in a real browser
(Debian's chromium through Playwright) against the project's own server: a
citizen half-fills a dossier and presses "Lưu nháp", leaves for "Hồ sơ của
tôi", finds the draft there, reopens it (the form and the chosen file come
back), picks the CCCD from "Giấy tờ của tôi" instead of uploading it, and
submits. The dossier's CCCD has the stored document's SHA-256, and the
draft is gone.

The server is another process and sees only committed rows: everything is
committed here and removed afterwards, with the files and counts added."""

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from playwright.sync_api import Browser, expect

from tests.browser import chromium, in_database, new_page, session_delete, session_key_for

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/dossier-drafts-phone.png")
UNIT_IDENTIFIER = "000.99.95.H95"
CITIZEN_ID = "027095004323"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x01" * 16
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SCHEMA = {
    "type": "object",
    "required": ["child_name"],
    "properties": {"child_name": {"type": "string", "title": "Họ, chữ đệm và tên người được khai sinh"}},
}

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker) -> Iterator[dict]:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from dossiers.attachments import attachments_remove
    from dossiers.density_counts import density_rebuild
    from dossiers.documents import document_upload
    from dossiers.models import (
        Attachment,
        CodeCounter,
        DailyStat,
        Dossier,
        Procedure,
        ProcedureComponent,
        Sector,
        StoredDocument,
    )
    from gisportal.accounts.models import Agency, Profile
    from gisportal.accounts.services import user_ensure
    from layers.models import ServicePoint, ServicePointKind

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        today = timezone.localdate()
        stats_before = list(DailyStat.objects.filter(day=today))
        sector = Sector.objects.create(code=f"drafts-{suffix}", name="Lĩnh vực thử nghiệm hồ sơ nháp")
        procedure = Procedure.objects.create(
            code=f"9.95{int(suffix, 16) % 10000:04d}",
            name=f"Đăng ký khai sinh (thử hồ sơ nháp {suffix})",
            sector=sector,
            agency=Agency.objects.get(code="so-tp"),
            level="province",
            online_level="full",
            processing_days=3,
        )
        for order, component in enumerate(
            [
                ProcedureComponent(procedure=procedure, code="to-khai", name="Tờ khai", form_schema=SCHEMA),
                ProcedureComponent(
                    procedure=procedure,
                    code="giay-chung-sinh",
                    name="Giấy chứng sinh",
                    accepted_types=["application/pdf"],
                ),
                ProcedureComponent(procedure=procedure, code="cccd", name="Căn cước", accepted_types=["image/png"]),
            ]
        ):
            component.order = order
            component.full_clean()
            component.save()
        desk = ServicePoint.objects.create(
            code=f"DRAFT-DESK-{suffix}",
            kind=ServicePointKind.COMMUNE_DESK,
            name=f"Bộ phận một cửa thử nghiệm nháp {suffix}",
            address="Số 3 đường thử nghiệm",
            geom=Point(106.0763, 21.1861, srid=4326),
            receiving_unit_identifier=UNIT_IDENTIFIER,
        )
        citizen = user_ensure(username=f"drafts-citizen-{suffix}", password="x-Strong-pass-1", role="citizen")
        Profile.objects.filter(user=citizen).update(full_name="Lê Thị Hoa", id_number=CITIZEN_ID, phone="0912000333")
        stored, _ = document_upload(owner=citizen, upload=SimpleUploadedFile("cccd-hoa.png", PNG), kind="cccd")
        session = session_key_for(citizen)
    try:
        yield {"procedure": procedure, "desk": desk, "session": session, "citizen": citizen, "stored": stored}
    finally:
        with django_db_blocker.unblock():
            session_delete(session)
            dossiers = Dossier.objects.filter(procedure=procedure)
            names = set(Attachment.objects.filter(dossier__in=dossiers).values_list("stored_name", flat=True))
            names |= set(StoredDocument.objects.filter(owner=citizen).values_list("stored_name", flat=True))
            attachments_remove(sorted(names))
            dossiers.delete()
            CodeCounter.objects.filter(unit_identifier=UNIT_IDENTIFIER).delete()
            DailyStat.objects.filter(day=today).delete()
            DailyStat.objects.bulk_create(stats_before)
            density_rebuild()
            citizen.delete()  # the documents and drafts go with the account
            procedure.delete()
            sector.delete()
            desk.delete()


@pytest.fixture(scope="module")
def browser(setup) -> Iterator[Browser]:
    yield from chromium()


@pytest.mark.django_db
def test_the_citizen_has_one_stored_document(setup):
    # A database test first: pytest-django creates the test database when this module runs alone.
    from dossiers.models import StoredDocument

    assert list(StoredDocument.objects.filter(owner=setup["citizen"]).values_list("sha256", flat=True)) == [
        hashlib.sha256(PNG).hexdigest()
    ]


def _fits(page, *selectors: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in selectors:
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, (selector, box)


def test_save_a_draft_leave_reopen_choose_a_stored_document_and_submit(
    setup, browser, live_server_url, django_db_blocker, tmp_path
):
    from dossiers.models import Attachment, Dossier, DossierDraft

    procedure, desk, stored = setup["procedure"], setup["desk"], setup["stored"]
    page, errors = new_page(browser, live_server_url, session_key=setup["session"], **PHONE)
    page.goto(f"{live_server_url}/procedures/{procedure.code}/submit/")
    pdf = tmp_path / "chung-sinh.pdf"
    pdf.write_bytes(PDF)
    page.locator("#id_receiving_point").select_option(desk.code)
    page.locator("#id_applicant_address").fill("Số 7 phố Ngô Gia Tự")
    page.locator("#id_eform-to-khai-child_name").fill("Lê Văn Minh")
    page.locator("#id-component-giay-chung-sinh").set_input_files(str(pdf))
    _fits(page, "#save-draft-button", "#submit-button", "#id-document-cccd")
    page.locator("#save-draft-button").click()

    expect(page.locator("#draft-saved")).to_contain_text("Đã lưu hồ sơ nháp")
    expect(page.locator("#draft-notice")).to_be_visible()
    assert in_database(django_db_blocker, lambda: Dossier.objects.filter(procedure=procedure).count()) == 0

    # Leave, and find the draft on "Hồ sơ của tôi".
    page.goto(f"{live_server_url}/dossiers/mine/")
    draft_item = page.locator("#drafts .draft")
    expect(draft_item).to_have_count(1)
    expect(draft_item).to_contain_text(procedure.name)
    _fits(page, "#drafts")
    draft_item.locator("a").click()

    # Reopened: what was typed and the file chosen come back.
    page.wait_for_url("**/submit/?draft=*")
    expect(page.locator("#id_applicant_address")).to_have_value("Số 7 phố Ngô Gia Tự")
    expect(page.locator("#id_eform-to-khai-child_name")).to_have_value("Lê Văn Minh")
    expect(page.locator("#id_receiving_point")).to_have_value(desk.code)
    expect(page.locator("#id-document-giay-chung-sinh option:checked")).to_have_text("chung-sinh.pdf (Giấy chứng sinh)")
    # The CCCD from "Giấy tờ của tôi" instead of a new upload.
    page.locator("#id-document-cccd").select_option(str(stored.pk))
    _fits(page, "#id-document-cccd", "#submit-button")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.locator("#submit-button").click()
    page.wait_for_url(f"{live_server_url}/dossiers/**")
    code = page.locator("#dossier-code").inner_text().strip()

    def stored_state():
        dossier = Dossier.objects.get(code=code)
        return (
            dict(Attachment.objects.filter(dossier=dossier).values_list("component_code", "sha256")),
            DossierDraft.objects.filter(owner=setup["citizen"]).count(),
        )

    files, drafts_left = in_database(django_db_blocker, stored_state)
    # "Giấy tờ của tôi" now lists the stored CCCD and the certificate sent with the draft.
    page.goto(f"{live_server_url}/me/documents/")
    expect(page.locator("#document-list tbody tr")).to_have_count(2)
    expect(page.locator("#document-list")).to_contain_text("cccd-hoa.png")
    _fits(page, "#document-list", "#document-upload-button")
    assert files == {"cccd": stored.sha256, "giay-chung-sinh": hashlib.sha256(PDF).hexdigest()}
    assert drafts_left == 0
    assert errors == []
