"""The dossier web pages with Django's test client: who may open which page
(the same doors as the API: 404 for a dossier one may not see, 403 for a
citizen on the worklist), the submit form (one dossier even when the same
form is POSTed twice, errors next to the fields with what was typed kept),
and the action forms (the status moves; a forbidden move is a 409 that
changes nothing)."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dossiers.models import Apology, Attachment, Dossier, DossierEvent, Status
from gisportal.tests import zips

from .conftest import CITIZEN_A_ID, CITIZEN_B_ID, local

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def files_root(settings, tmp_path):
    """Attachments of these tests go to a temporary directory: the database
    rows roll back after each test, the files would not."""
    settings.DOSSIER_FILES_ROOT = tmp_path / "dossier-files"
    return settings.DOSSIER_FILES_ROOT


def _login(client, user):
    client.force_login(user)
    return client


def _submit_url(procedure) -> str:
    return reverse("dossier-submit", args=[procedure.code])


def _form(points, **overrides) -> dict:
    data = {
        "applicant_name": "Nguyễn Văn A",
        "applicant_id_number": CITIZEN_A_ID,
        "applicant_phone": "0912 345 678",
        "applicant_email": "a@example.org",
        "applicant_address": "Số 1 đường Lý Thái Tổ",
        "applicant_commune": "",
        "receiving_point": points.centre.code,
        "result_delivery": "desk",
        "delivery_address": "",
        "note": "",
    }
    data.update(overrides)
    return data


def _token(client, procedure) -> str:
    page = client.get(_submit_url(procedure))
    assert page.status_code == 200
    return TOKEN.search(page.content.decode()).group(1)


# --- Submit --------------------------------------------------------------------------


def test_submit_page_asks_anonymous_visitors_to_sign_in(client, catalogue):
    response = client.get(_submit_url(catalogue.main))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_submit_page_of_an_unknown_procedure_is_404(client, people):
    _login(client, people.citizen_a)
    assert client.get(reverse("dossier-submit", args=["9.000000"])).status_code == 404


def test_submit_page_is_prefilled_for_a_citizen_and_offers_online_points(client, catalogue, points, people):
    _login(client, people.citizen_a)
    page = client.get(_submit_url(catalogue.main)).content.decode()
    assert catalogue.main.name in page
    assert f'value="{CITIZEN_A_ID}"' in page and 'value="Nguyễn Văn A"' in page
    assert f'value="{points.centre.code}"' in page and f'value="{points.desk.code}"' in page
    # Online dossiers never go to a post office (post offices are offered only
    # as the place to drop a dossier sent by post, in a select of their own).
    receiving = page[
        page.index('name="receiving_point"') : page.index("</select>", page.index('name="receiving_point"'))
    ]
    assert f'value="{points.post.code}"' not in receiving
    assert f'value="{points.post.code}"' in page[page.index('name="pickup_point"') :]
    assert 'accept=".pdf,.png,.jpg,.jpeg,.docx"' in page and "multiple" in page
    assert 'value="post"' in page  # this procedure may send its result by post


def test_post_option_is_absent_when_the_procedure_sends_no_result_by_post(client, catalogue, people):
    _login(client, people.citizen_a)
    page = client.get(_submit_url(catalogue.no_post)).content.decode()
    assert 'name="result_delivery" value="desk"' in page
    assert 'name="result_delivery" value="post"' not in page


def test_officials_who_do_not_receive_dossiers_get_403(client, catalogue, people):
    _login(client, people.processor)
    response = client.get(_submit_url(catalogue.main))
    assert response.status_code == 403
    assert 'id="submit-form"' not in response.content.decode()


def test_one_dossier_even_when_the_same_form_is_posted_twice(client, catalogue, points, people, files_root):
    _login(client, people.citizen_a)
    token = _token(client, catalogue.main)
    before = Dossier.objects.count()
    answers = []
    for _ in range(2):  # a double click, or a reload of the POST
        upload = SimpleUploadedFile("don.pdf", PDF, content_type="application/pdf")
        answers.append(
            client.post(_submit_url(catalogue.main), {**_form(points), "form_token": token, "attachments": [upload]})
        )
    assert Dossier.objects.count() == before + 1
    dossier = Dossier.objects.get(applicant=people.citizen_a, procedure=catalogue.main)
    assert [a.status_code for a in answers] == [302, 302]
    assert {a["Location"] for a in answers} == {reverse("dossier-page", args=[dossier.code])}
    # Issue #15: an online dossier waits for the desk.
    assert dossier.channel == 2 and dossier.receiving_point == points.centre
    assert dossier.status == Status.WAITING_RECEIPT
    stored = Attachment.objects.get(dossier=dossier)
    assert (files_root / stored.stored_name).read_bytes() == PDF  # stored once, under a generated name
    assert list(files_root.iterdir()) == [files_root / stored.stored_name]

    page = client.get(answers[0]["Location"]).content.decode()
    assert dossier.code in page
    # No receipt slip before receipt (issue #15); the message says it waits for the desk.
    assert reverse("api-dossier-slip", args=[dossier.code, "receipt"]) not in page
    assert "đang chờ bộ phận một cửa tiếp nhận" in page
    assert reverse("dossier-lookup-page") + "?code=" + dossier.code in page


def test_the_same_form_sent_again_with_other_content_is_422_and_gets_a_new_token(client, catalogue, points, people):
    _login(client, people.citizen_a)
    token = _token(client, catalogue.main)
    before = Dossier.objects.count()
    assert client.post(_submit_url(catalogue.main), {**_form(points), "form_token": token}).status_code == 302
    changed = {**_form(points, note="Thêm một dòng"), "form_token": token}
    response = client.post(_submit_url(catalogue.main), changed)
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="form-conflict"' in page and "Thêm một dòng" in page
    fresh = TOKEN.search(page).group(1)
    assert fresh != token
    assert Dossier.objects.count() == before + 1
    # Sent again on purpose with the new token: a second dossier.
    assert client.post(_submit_url(catalogue.main), {**changed, "form_token": fresh}).status_code == 302
    assert Dossier.objects.count() == before + 2


def test_two_forms_make_two_dossiers(client, catalogue, points, people):
    _login(client, people.citizen_a)
    before = Dossier.objects.count()
    for _ in range(2):
        token = _token(client, catalogue.main)
        assert client.post(_submit_url(catalogue.main), {**_form(points), "form_token": token}).status_code == 302
    assert Dossier.objects.count() == before + 2


def test_errors_come_back_next_to_the_fields_with_what_was_typed(client, catalogue, points, people):
    _login(client, people.citizen_a)
    token = _token(client, catalogue.main)
    before = Dossier.objects.count()
    upload = SimpleUploadedFile("don.pdf", PDF, content_type="application/pdf")
    data = _form(
        points,
        applicant_id_number="12345",
        applicant_address="",
        applicant_phone="0988 111 222",
        note="Ghi chú của tôi",
        result_delivery="post",
        delivery_address="",
    )
    response = client.post(_submit_url(catalogue.main), {**data, "form_token": token, "attachments": [upload]})
    assert response.status_code == 400
    assert Dossier.objects.count() == before
    page = response.content.decode()
    # Bilingual messages from the service, each under its field.
    assert "12 chữ số" in page and "12 digits" in page
    assert "Cần địa chỉ người nộp" in page and "address is required" in page
    assert "A postal address is required" in page
    # What was typed is still there; the files must be chosen again, and the page says so.
    assert 'value="12345"' in page and 'value="0988 111 222"' in page and "Ghi chú của tôi" in page
    assert f'value="{token}"' in page
    assert 'id="files-lost"' in page
    # The ID number is in the form only, never in a link.
    assert "?applicant_id_number" not in page


def test_an_attachment_of_a_wrong_type_is_refused_by_name(client, catalogue, points, people):
    _login(client, people.citizen_a)
    token = _token(client, catalogue.main)
    before = Dossier.objects.count()
    fake = SimpleUploadedFile("virus.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = client.post(_submit_url(catalogue.main), {**_form(points), "form_token": token, "attachments": [fake]})
    assert response.status_code == 400
    assert "virus.pdf" in response.content.decode() and "PDF, PNG, JPEG, DOCX" in response.content.decode()
    assert Dossier.objects.count() == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (lambda: zips.docx(document=zips.zeros("word/document.xml", 1024**3)), "looks like a zip bomb"),
        (lambda: zips.docx(zips.deflated("../evil.xml", b"<x/>")), "unsafe path"),
    ],
    ids=["zip-bomb", "parent-path"],
)
def test_a_hostile_docx_is_refused_on_the_page_and_nothing_is_stored(
    content, expected, client, catalogue, points, people, files_root
):
    _login(client, people.citizen_a)
    token = _token(client, catalogue.main)
    before = (Dossier.objects.count(), Attachment.objects.count())
    docx = SimpleUploadedFile("tờ khai.docx", content(), content_type="application/octet-stream")
    response = client.post(_submit_url(catalogue.main), {**_form(points), "form_token": token, "attachments": [docx]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "tờ khai.docx" in page and expected in page and "Tệp zip" in page
    assert (Dossier.objects.count(), Attachment.objects.count()) == before
    assert not files_root.exists() or not any(files_root.iterdir())


def test_a_location_outside_the_province_is_refused(client, catalogue, points, people):
    _login(client, people.citizen_a)
    token = _token(client, catalogue.main)
    response = client.post(
        _submit_url(catalogue.main), {**_form(points), "form_token": token, "lon": "105.85", "lat": "21.03"}
    )
    assert response.status_code == 400
    assert "outside the province" in response.content.decode()


def test_a_desk_officer_receives_in_person_at_their_own_desk(client, catalogue, points, people):
    _login(client, people.desk_main)
    page = client.get(_submit_url(catalogue.main)).content.decode()
    assert 'name="receiving_point"' not in page and points.centre.name in page
    assert 'name="applicant_name" value=' not in page  # the officer types the applicant's data
    token = TOKEN.search(page).group(1)
    response = client.post(
        _submit_url(catalogue.main), {**_form(points, receiving_point=points.desk.code), "form_token": token}
    )
    assert response.status_code == 302
    dossier = Dossier.objects.get(code=response["Location"].rstrip("/").rsplit("/", 1)[1])
    assert dossier.channel == 1 and dossier.receiving_point == points.centre
    assert dossier.applicant == people.citizen_a  # found by the citizen ID number


def test_a_post_office_clerk_receives_by_post(client, catalogue, points, people):
    _login(client, people.post_clerk)
    token = _token(client, catalogue.main)
    response = client.post(_submit_url(catalogue.main), {**_form(points), "form_token": token})
    assert response.status_code == 302
    dossier = Dossier.objects.order_by("-id").first()
    assert dossier.channel == 3 and dossier.receiving_point == points.post


# --- Lists ---------------------------------------------------------------------------


def test_my_dossiers_lists_only_my_own(client, submit, people):
    mine = submit()
    theirs = submit(user=people.citizen_b, applicant_id_number=CITIZEN_B_ID, applicant_name="Trần Thị B")
    _login(client, people.citizen_a)
    response = client.get(reverse("my-dossiers"))
    assert response.status_code == 200
    page = response.content.decode()
    assert mine.code in page and theirs.code not in page
    assert "Đã tiếp nhận" in page
    assert CITIZEN_A_ID not in page and CITIZEN_A_ID[-4:] in page  # the profile's ID, masked


def test_my_dossiers_sends_officials_to_their_worklist(client, people):
    _login(client, people.desk_main)
    response = client.get(reverse("my-dossiers"))
    assert response.status_code == 302 and response["Location"] == reverse("worklist")


def test_the_worklist_is_403_for_a_citizen_and_asks_anonymous_to_sign_in(client, people):
    assert client.get(reverse("worklist")).status_code == 302
    _login(client, people.citizen_a)
    response = client.get(reverse("worklist"))
    assert response.status_code == 403 and 'id="forbidden"' in response.content.decode()


def test_the_worklist_shows_the_office_dossiers_with_their_actions(client, submit, people, points):
    dossier = submit(receiving_point_code=points.desk.code)
    _login(client, people.desk_commune)
    response = client.get(reverse("worklist"), {"status": "received"})
    assert response.status_code == 200
    page = response.content.decode()
    assert dossier.code in page and "Nguyễn Văn A" in page
    # The moves a desk officer may make from "received", as forms to the action endpoint.
    assert reverse("dossier-action", args=[dossier.code]) in page
    for action in ("assign", "request_supplement", "refuse", "withdraw"):
        assert f'name="action" value="{action}"' in page
    assert 'value="start"' not in page  # a processing officer's move

    # Another office does not see it.
    _login(client, people.desk_main)
    assert dossier.code not in client.get(reverse("worklist")).content.decode()


def test_worklist_filters(client, submit, people, points):
    late = submit(receiving_point_code=points.desk.code, received_at=local(2025, 3, 3))
    fresh = submit(receiving_point_code=points.desk.code)
    _login(client, people.desk_commune)
    page = client.get(reverse("worklist"), {"due": "late"}).content.decode()
    assert late.code in page and fresh.code not in page
    rows = _rows(client.get(reverse("worklist")).content.decode())
    assert "badge--late" in rows[late.code] and "badge--late" not in rows[fresh.code]  # late in red
    page = client.get(reverse("worklist"), {"status": "assigned"}).content.decode()
    assert late.code not in page and fresh.code not in page
    assert client.get(reverse("worklist"), {"due": "whenever"}).status_code == 400


def _rows(page: str) -> dict[str, str]:
    """The worklist's rows (their HTML) by dossier code."""
    parts = page.split('<tr data-code="')[1:]
    return {part.split('"', 1)[0]: part.split("</tr>", 1)[0] for part in parts}


# --- One dossier ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [("citizen_a", 200), ("citizen_b", 404), ("desk_main", 200), ("processor", 200), ("processor_other", 404)],
)
def test_dossier_page_access(client, submit, people, who, expected):
    dossier = submit()
    _login(client, getattr(people, who))
    response = client.get(reverse("dossier-page", args=[dossier.code]))
    assert response.status_code == expected
    if expected == 200:
        page = response.content.decode()
        assert dossier.code in page and dossier.procedure.name in page
        # The full ID number only for its owner.
        assert (CITIZEN_A_ID in page) == (who == "citizen_a")
        assert CITIZEN_A_ID[-4:] in page


def test_dossier_page_asks_anonymous_visitors_to_sign_in(client, submit):
    dossier = submit()
    response = client.get(reverse("dossier-page", args=[dossier.code]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_action_moves_the_status_and_a_forbidden_one_is_409(client, submit, people):
    dossier = submit()
    url = reverse("dossier-action", args=[dossier.code])
    _login(client, people.desk_main)
    page = client.get(reverse("dossier-page", args=[dossier.code])).content.decode()
    assert 'id="action-assign"' in page

    response = client.post(url, {"action": "assign"})
    assert response.status_code == 302 and response["Location"] == reverse("dossier-page", args=[dossier.code])
    dossier.refresh_from_db()
    assert dossier.status == Status.ASSIGNED
    events = DossierEvent.objects.filter(dossier=dossier).count()

    # The same move again: not from "assigned". Nothing changes.
    response = client.post(url, {"action": "assign"})
    assert response.status_code == 409
    assert "assign" in response.content.decode() and 'id="action-refused"' in response.content.decode()
    dossier.refresh_from_db()
    assert dossier.status == Status.ASSIGNED
    assert DossierEvent.objects.filter(dossier=dossier).count() == events


def test_a_citizen_cannot_make_an_officials_move(client, submit, people):
    dossier = submit()
    _login(client, people.citizen_a)
    response = client.post(reverse("dossier-action", args=[dossier.code]), {"action": "assign"})
    assert response.status_code == 409
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED


def test_a_citizen_may_withdraw_their_dossier_from_the_page(client, submit, people):
    dossier = submit()
    _login(client, people.citizen_a)
    page = client.get(reverse("dossier-page", args=[dossier.code])).content.decode()
    assert 'id="action-withdraw"' in page and 'id="action-assign"' not in page
    response = client.post(reverse("dossier-action", args=[dossier.code]), {"action": "withdraw", "confirm": "yes"})
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.status == Status.WITHDRAWN


def test_a_missing_note_is_400_and_the_typed_values_stay(client, submit, drive, people):
    dossier = drive(submit(), "processing")
    url = reverse("dossier-action", args=[dossier.code])
    _login(client, people.processor)
    response = client.post(url, {"action": "transfer", "note": "", "agency": "so-y-te"})
    assert response.status_code == 400
    assert "A note (the reason) is required" in response.content.decode()
    response = client.post(url, {"action": "transfer", "note": "Thuộc thẩm quyền Sở Y tế", "agency": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert "valid receiving agency code" in page and "Thuộc thẩm quyền Sở Y tế" in page
    dossier.refresh_from_db()
    assert dossier.status == Status.PROCESSING


def test_an_action_from_the_worklist_returns_to_the_worklist(client, submit, people, points):
    dossier = submit(receiving_point_code=points.desk.code)
    _login(client, people.desk_commune)
    back = reverse("worklist") + "?status=received"
    response = client.post(reverse("dossier-action", args=[dossier.code]), {"action": "assign", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    # Never off the site.
    dossier = submit(receiving_point_code=points.desk.code)
    response = client.post(
        reverse("dossier-action", args=[dossier.code]), {"action": "assign", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("dossier-page", args=[dossier.code])


def test_actions_on_an_invisible_dossier_are_404(client, submit, people):
    dossier = submit()
    _login(client, people.citizen_b)
    assert client.post(reverse("dossier-action", args=[dossier.code]), {"action": "withdraw"}).status_code == 404
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED


def test_an_apology_for_a_late_dossier(client, submit, people):
    dossier = submit(received_at=local(2025, 3, 3))
    url = reverse("dossier-page", args=[dossier.code])
    _login(client, people.desk_main)
    assert 'id="apology"' in client.get(url).content.decode()
    new_day = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    response = client.post(reverse("dossier-apology", args=[dossier.code]), {"reason": "", "new_due_at": new_day})
    assert response.status_code == 400
    response = client.post(
        reverse("dossier-apology", args=[dossier.code]), {"reason": "Chờ ý kiến liên ngành", "new_due_at": new_day}
    )
    assert response.status_code == 302
    apology = Apology.objects.get(dossier=dossier)
    assert apology.reason == "Chờ ý kiến liên ngành"
    assert apology.new_due_at.date().isoformat() == new_day

    # A citizen sees no apology form and cannot make one.
    _login(client, people.citizen_a)
    assert 'id="apology"' not in client.get(url).content.decode()
    response = client.post(reverse("dossier-apology", args=[dossier.code]), {"reason": "x", "new_due_at": new_day})
    assert response.status_code == 409
    assert Apology.objects.filter(dossier=dossier).count() == 1


def test_the_menu_links_by_role(client, people):
    page = client.get(reverse("map")).content.decode()
    assert reverse("register") in page and reverse("dossier-lookup-page") in page
    assert reverse("my-dossiers") not in page
    _login(client, people.citizen_a)
    page = client.get(reverse("map")).content.decode()
    assert reverse("my-dossiers") in page and reverse("worklist") not in page
    _login(client, people.desk_main)
    page = client.get(reverse("map")).content.decode()
    assert reverse("worklist") in page and reverse("my-dossiers") not in page


def test_english_pages_show_english_labels(client, submit, people):
    dossier = submit()
    _login(client, people.citizen_a)
    page = client.get(reverse("dossier-page", args=[dossier.code]), {"lang": "en"}).content.decode()
    assert ">Received<" in page and "Đã tiếp nhận" not in page
