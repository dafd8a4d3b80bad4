"""PDF slips of Circular 01/2018 (GET /api/v1/dossiers/<code>/slips/<kind>.pdf).

The PDFs are read back with poppler's `pdftotext`/`pdfinfo`/`pdftoppm` and
the QR code is decoded from the rendered page with `zbarimg`: what a reader
and a phone get, not what our code meant to write. Debian packages
poppler-utils and zbar-tools."""

import datetime as dt
import logging
import shutil
import subprocess

import pytest
from django.urls import reverse
from django.utils import timezone

from dossiers.models import Dossier
from dossiers.serializers import SLIP_KINDS, lookup_url
from dossiers.services import dossier_apologize, dossier_transition
from dossiers.workflow import BY_ACTION

from .conftest import CITIZEN_A_ID

TOOLS = ("pdftotext", "pdfinfo", "pdftoppm", "zbarimg")
MISSING = [tool for tool in TOOLS if not shutil.which(tool)]
assert not MISSING, f"install poppler-utils and zbar-tools (apt) for the slip tests: missing {MISSING}"

TITLES = {
    "receipt": "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
    "supplement": "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
    "refusal": "PHIẾU TỪ CHỐI TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ",
    "apology": "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
    "control": "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
}
DOCUMENTS = ["Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", "Bản chụp căn cước của người được cấp"]
PHONE = "0912 345 678"
EMAIL = "nguyen.a@example.org"


def slip_url(code: str, kind: str) -> str:
    return reverse("api-dossier-slip", args=[code, kind])


def pdf_text(pdf: bytes, tmp_path) -> str:
    """The text of the PDF in drawing order (so a table cell's lines stay
    together), whitespace collapsed (narrow columns wrap lines anywhere)."""
    path = tmp_path / "slip.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())


PAGE_SIZES_MM = {"A5": (148, 210), "A4": (210, 297)}


def pdf_page_size(pdf: bytes, tmp_path) -> str:
    """ "A4", "A5" or the size in points, as pdfinfo reads it."""
    path = tmp_path / "size.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    line = next(line for line in info.splitlines() if line.startswith("Page size:"))
    width, _, height = line.split(":", 1)[1].split()[:3]
    for name, (width_mm, height_mm) in PAGE_SIZES_MM.items():
        if abs(float(width) - width_mm * 72 / 25.4) < 1 and abs(float(height) - height_mm * 72 / 25.4) < 1:
            return name
    return line


def qr_codes_on_first_page(pdf: bytes, tmp_path) -> list[str]:
    """Renders page 1 at 200 dpi and decodes every QR code on it."""
    path = tmp_path / "qr.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "200", "-f", "1", "-l", "1", "-png", "-singlefile", str(path), str(tmp_path / "page")],
        check=True,
    )
    out = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(tmp_path / "page.png")],
        capture_output=True,
        text=True,
    )
    return [line for line in out.stdout.splitlines() if line]


def local_text(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


@pytest.fixture
def dossier(catalogue, submit) -> Dossier:
    """Citizen A's online dossier at CENTRE-MAIN, for a so-tp procedure with
    documents and a fee."""
    catalogue.main.required_documents = DOCUMENTS
    catalogue.main.fee_vnd = 200_000
    catalogue.main.save(update_fields=["required_documents", "fee_vnd"])
    return submit(applicant_phone=PHONE, applicant_email=EMAIL)


def get_slip(client_as, user, dossier: Dossier, kind: str):
    return client_as(user).get(slip_url(dossier.code, kind))


# --- form 1: receipt and appointment -------------------------------------------


def test_receipt_is_an_a5_pdf_with_the_circular_header_and_the_dossier(client_as, people, points, dossier, tmp_path):
    response = get_slip(client_as, people.citizen_a, dossier, "receipt")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{dossier.code}-receipt.pdf"'
    assert "no-store" in response["Cache-Control"]
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert pdf_page_size(pdf, tmp_path) == "A5"
    text = pdf_text(pdf, tmp_path)
    for expected in (
        TITLES["receipt"],
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        points.centre.name.upper(),
        dossier.code,
        dossier.procedure.name,
        dossier.procedure.code,
        "Nguyễn Văn A",
        "Số 1 đường Lý Thái Tổ, Bắc Ninh",
        PHONE,
        *DOCUMENTS,
        "200.000 đồng",
        "3 ngày làm việc",
        local_text(dossier.received_at),
        local_text(dossier.due_at),
    ):
        assert expected in text, expected
    # The citizen ID is printed masked, never in full.
    assert "********1234" in text
    assert CITIZEN_A_ID not in text


def test_receipt_qr_code_decodes_to_the_public_lookup_link(client_as, people, dossier, tmp_path, settings):
    pdf = get_slip(client_as, people.citizen_a, dossier, "receipt").content

    decoded = qr_codes_on_first_page(pdf, tmp_path)

    expected = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/dossiers/lookup/?code={dossier.code}"
    assert lookup_url(dossier.code) == expected
    assert decoded == [expected]
    # The same link is printed under the code for those without a phone.
    assert expected in pdf_text(pdf, tmp_path)


def test_receipt_of_a_desk_submission_names_the_officer_who_received_it(client_as, people, submit, tmp_path):
    dossier = submit(user=people.desk_main, channel=1)
    pdf = get_slip(client_as, people.desk_main, dossier, "receipt").content
    text = pdf_text(pdf, tmp_path)
    assert "Trực tiếp" in text
    assert people.desk_main.profile.full_name in text


# --- forms 2-5 ---------------------------------------------------------------------


def test_supplement_slip_prints_the_latest_request(client_as, people, dossier, drive, tmp_path):
    drive(dossier, "supplemented")
    dossier_transition(code=dossier.code, action="start", acting_user=people.processor)
    dossier_transition(
        code=dossier.code,
        action="request_supplement",
        acting_user=people.processor,
        note="Bổ sung bản sao giấy khai sinh có chứng thực",
    )

    response = get_slip(client_as, people.citizen_a, dossier, "supplement")

    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    assert TITLES["supplement"] in text and dossier.code in text
    assert "Bổ sung bản sao giấy khai sinh có chứng thực" in text
    assert "bước request_supplement" not in text  # the earlier request, not the latest
    assert people.processor.profile.full_name in text


def test_refusal_slip_prints_the_reason(client_as, people, dossier, tmp_path):
    dossier_transition(
        code=dossier.code, action="refuse", acting_user=people.desk_main, note="Hồ sơ không thuộc thẩm quyền"
    )

    response = get_slip(client_as, people.desk_main, dossier, "refusal")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'inline; filename="{dossier.code}-refusal.pdf"'
    text = pdf_text(response.content, tmp_path)
    assert TITLES["refusal"] in text and dossier.code in text
    assert "Hồ sơ không thuộc thẩm quyền" in text
    assert "NGƯỜI TIẾP NHẬN HỒ SƠ" in text


def test_markup_in_a_note_is_printed_as_text_not_rendered(client_as, people, dossier, tmp_path):
    note = 'Thiếu <b>tờ khai</b> <img src="file:///etc/passwd"> & "bản sao"'
    dossier_transition(code=dossier.code, action="refuse", acting_user=people.desk_main, note=note)

    text = pdf_text(get_slip(client_as, people.desk_main, dossier, "refusal").content, tmp_path)

    assert note in text


def test_apology_slip_prints_the_reason_and_the_new_date(client_as, people, submit, tmp_path):
    received = timezone.now() - dt.timedelta(days=30)
    dossier = submit(received_at=received)
    dossier_transition(code=dossier.code, action="assign", acting_user=people.desk_main)
    new_date = timezone.localtime(timezone.now() + dt.timedelta(days=5)).replace(hour=16, minute=30, second=0)
    dossier_apologize(
        code=dossier.code, acting_user=people.processor, reason="Chờ xác minh của cơ quan công an", new_due_at=new_date
    )

    response = get_slip(client_as, people.citizen_a, dossier, "apology")

    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    assert TITLES["apology"] in text and dossier.code in text
    assert "Chờ xác minh của cơ quan công an" in text
    assert local_text(new_date) in text
    assert local_text(dossier.due_at) in text
    assert "Nguyễn Văn A" in text


def test_control_slip_is_a4_and_lists_every_hand_over(client_as, people, dossier, drive, tmp_path):
    dossier = drive(dossier, "result_returned")
    events = list(dossier.events.all())
    moves = [e.action for e in events if e.action == "receive" or e.action in BY_ACTION]
    assert moves == ["receive", "assign", "start", "approve", "mark_result_ready", "return_result"]

    response = get_slip(client_as, people.processor, dossier, "control")

    assert response.status_code == 200
    assert pdf_page_size(response.content, tmp_path) == "A4"
    text = pdf_text(response.content, tmp_path)
    assert TITLES["control"] in text and dossier.code in text
    for step in (
        "Tiếp nhận hồ sơ",
        "Chuyển cơ quan xử lý",
        "Bắt đầu xử lý",
        "Phê duyệt",
        "Có kết quả",
        "Trả kết quả",
    ):
        assert step in text, step
    for user in (people.desk_main, people.processor, people.leader):
        assert user.profile.full_name in text
    assert "Sở Tư pháp tỉnh Bắc Ninh" in text  # the agency the desk handed it to
    for event in events:
        assert local_text(event.at) in text
    # A step another app recorded (the fee of this procedure, requested on receipt) is named.
    assert "Yêu cầu nộp phí" in text
    # Finished the same day it was received: early, against a 3-day deadline.
    assert "Trước hạn" in text
    assert CITIZEN_A_ID not in text and "********1234" in text


def test_control_slip_marks_a_late_step(client_as, people, submit, tmp_path):
    dossier = submit(received_at=timezone.now() - dt.timedelta(days=30))
    dossier_transition(code=dossier.code, action="assign", acting_user=people.desk_main)

    text = pdf_text(get_slip(client_as, people.desk_main, dossier, "control").content, tmp_path)

    assert "Trong hạn" in text  # the receipt, on the first day
    assert "Quá hạn" in text  # the hand-over, a month later


# --- slips that do not apply yet, unknown kinds ---------------------------------


@pytest.mark.parametrize("kind", ["supplement", "refusal", "apology"])
def test_a_slip_that_does_not_apply_yet_is_409(client_as, people, dossier, kind):
    response = get_slip(client_as, people.citizen_a, dossier, kind)

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert " / " in detail and detail.split(" / ")[0] and detail.split(" / ")[1]


def test_every_kind_is_served_once_it_applies(client_as, people, submit, tmp_path):
    dossier = submit(received_at=timezone.now() - dt.timedelta(days=30))
    dossier_transition(
        code=dossier.code, action="request_supplement", acting_user=people.desk_main, note="Thiếu tờ khai"
    )
    dossier_transition(code=dossier.code, action="supplement", acting_user=people.citizen_a)
    dossier_apologize(
        code=dossier.code,
        acting_user=people.desk_main,
        reason="Quá tải",
        new_due_at=timezone.now() + dt.timedelta(days=3),
    )
    dossier_transition(code=dossier.code, action="start", acting_user=people.processor)
    dossier_transition(code=dossier.code, action="refuse", acting_user=people.leader, note="Không đủ điều kiện")

    for kind in SLIP_KINDS:
        response = get_slip(client_as, people.leader, dossier, kind)
        assert response.status_code == 200, kind
        assert response.content.startswith(b"%PDF-")
        text = pdf_text(response.content, tmp_path)
        assert TITLES[kind] in text and dossier.code in text, kind


def test_unknown_kind_is_404_naming_kind(client_as, people, dossier):
    response = client_as(people.citizen_a).get(f"/api/v1/dossiers/{dossier.code}/slips/invoice.pdf")

    assert response.status_code == 404
    assert "kind" in response.json()
    assert "receipt" in response.json()["kind"][0]


def test_unknown_dossier_is_404(client_as, people):
    response = client_as(people.desk_main).get(slip_url("000.00.13.H04-260101-9999", "receipt"))
    assert response.status_code == 404


# --- access -------------------------------------------------------------------------


def test_anonymous_caller_gets_401(api, dossier):
    response = api.get(slip_url(dossier.code, "receipt"))
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


@pytest.mark.parametrize("who", ["citizen_b", "processor_other", "desk_commune", "post_clerk"])
def test_callers_who_may_not_see_the_dossier_get_404(client_as, people, dossier, who):
    for kind in ("receipt", "control"):
        response = get_slip(client_as, getattr(people, who), dossier, kind)
        assert response.status_code == 404, kind
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("who", ["citizen_a", "desk_main", "processor", "leader", "administrator"])
def test_the_applicant_and_the_right_officials_get_the_slip(client_as, people, dossier, who):
    response = get_slip(client_as, getattr(people, who), dossier, "receipt")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")


def test_printing_is_audited_without_personal_data(client_as, people, dossier, caplog):
    with caplog.at_level(logging.INFO, logger="gisportal.audit"):
        assert get_slip(client_as, people.citizen_a, dossier, "receipt").status_code == 200

    lines = [r.getMessage() for r in caplog.records if r.name == "gisportal.audit"]
    printed = [line for line in lines if "slip printed" in line]
    assert len(printed) == 1
    assert f"user={people.citizen_a.pk}" in printed[0] and "kind=receipt" in printed[0]
    assert dossier.code in printed[0]
    assert CITIZEN_A_ID not in printed[0] and "Nguyễn" not in printed[0]


def test_asking_for_pdf_does_not_break_error_answers(client_as, people, dossier):
    response = client_as(people.citizen_b).get(slip_url(dossier.code, "receipt"), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_every_slip_kind_has_a_form():
    from dossiers.slips import FORMS

    assert set(FORMS) == set(SLIP_KINDS)
    assert [FORMS[kind].number for kind in SLIP_KINDS] == [1, 2, 3, 4, 5]
