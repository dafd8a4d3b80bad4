"""Submitting a dossier: POST /api/v1/dossiers/ as JSON and multipart with
attachments, by citizens (online), desk officers (in person at their own
desk) and post-office clerks (public post); bad input on every field is a
400 naming the field and creates nothing; the Idempotency-Key header makes
retries safe."""

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from shapely import wkb
from shapely.geometry import Point as ShapelyPoint

from dossiers.models import Attachment, CodeCounter, DailyStat, Dossier, DossierEvent, IdempotencyKey
from dossiers.services import Submission, dossier_submit
from gisportal.tests import zips
from layers.models import AdministrativeUnit

from .conftest import CITIZEN_A_ID

pytestmark = pytest.mark.django_db

URL = "/api/v1/dossiers/"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 16 + b"\xff\xd9"
STORED_NAME = re.compile(r"[0-9a-f]{32}\.(pdf|png|jpg|docx)")


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _zip_not_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.exe", "MZ")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def files_root(settings, tmp_path) -> Path:
    settings.DOSSIER_FILES_ROOT = tmp_path / "private-dossiers"
    return settings.DOSSIER_FILES_ROOT


def stored_files(root: Path) -> list[Path]:
    return sorted(root.iterdir()) if root.exists() else []


def counts() -> dict:
    stat = DailyStat.objects.filter(dimension="all")
    return {
        "dossiers": Dossier.objects.count(),
        "events": DossierEvent.objects.count(),
        "counters": list(CodeCounter.objects.order_by("id").values_list("id", "last")),
        "received": sum(stat.values_list("received", flat=True)),
        "attachments": Attachment.objects.count(),
        "keys": IdempotencyKey.objects.count(),
    }


# --- happy paths ----------------------------------------------------------------


def test_json_submission_by_a_citizen(api_payload, people, client_as, catalogue, points):
    before = counts()
    response = client_as(people.citizen_a).post(URL, api_payload(note="  Cần gấp  "), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert re.fullmatch(r"000\.00\.13\.H04-\d{6}-\d{4}", body["code"])
    assert response["Location"] == f"/api/v1/dossiers/{body['code']}/"
    # Issue #15: an online submission waits for the desk to receive it.
    assert (body["status"], body["channel"], body["receiving_point"]["code"]) == ("waiting_receipt", 2, "CENTRE-MAIN")
    assert body["procedure"]["code"] == catalogue.main.code
    assert body["agency"]["code"] == "so-tp"
    assert body["applicant"]["id_number"] == CITIZEN_A_ID  # the applicant sees it in full
    assert [e["action"] for e in body["events"]] == ["submit"]
    dossier = Dossier.objects.get(code=body["code"])
    assert dossier.applicant == people.citizen_a
    assert (dossier.applicant_phone, dossier.applicant_email, dossier.note) == (
        "0912 345 678",
        "a@example.org",
        "Cần gấp",
    )
    assert (dossier.fee_vnd, dossier.result_delivery, dossier.delivery_address) == (0, "desk", "")
    event = dossier.events.get()
    assert (event.from_status, event.to_status, event.actor_id, event.actor_role) == (
        "",
        "waiting_receipt",
        people.citizen_a.pk,
        "citizen",
    )
    after = counts()
    # Not counted as received until the desk receives it.
    assert (after["dossiers"], after["events"], after["received"]) == (
        before["dossiers"] + 1,
        before["events"] + 1,
        before["received"],
    )


def test_nested_applicant_object_is_accepted(api_payload, people, client_as):
    body = api_payload(applicant_name=None, applicant_id_number=None, applicant_address=None)
    body["applicant"] = {"name": "Lê Văn C", "id_number": "027301998877", "address": "Thôn Đông, xã Tiên Du"}
    response = client_as(people.citizen_a).post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    assert (dossier.applicant_name, dossier.applicant_id_number) == ("Lê Văn C", "027301998877")


def test_location_inside_the_province_gives_the_commune(api_payload, people, client_as, points):
    # A point well inside the ward of CENTRE-MAIN, found by shapely.
    ward = points.centre.admin_unit
    inside = wkb.loads(bytes(ward.geom.wkb)).representative_point()
    lon, lat = inside.x, inside.y
    response = client_as(people.citizen_a).post(URL, api_payload(lon=lon, lat=lat), format="json")
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    assert dossier.applicant_commune == ward
    assert response.json()["location"]["coordinates"] == [pytest.approx(lon), pytest.approx(lat)]


def test_commune_without_location_gives_a_point_inside_it(api_payload, people, client_as):
    commune = AdministrativeUnit.objects.filter(era="2025", level="commune").order_by("code").last()
    response = client_as(people.citizen_a).post(URL, api_payload(applicant_commune=commune.code), format="json")
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    assert dossier.applicant_commune == commune
    assert wkb.loads(bytes(commune.geom.wkb)).covers(ShapelyPoint(dossier.location.x, dossier.location.y))


def test_multipart_with_every_allowed_type(api_payload, people, client_as, files_root):
    files = {
        "don-de-nghi.pdf": (PDF, "application/pdf"),
        "anh-chan-dung.png": (PNG, "image/png"),
        "cccd.jpg": (JPEG, "image/jpeg"),
        "to-khai.docx": (_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    }
    # The browser's content type is ignored: every file is sent as octet-stream.
    uploads = [upload(name, content) for name, (content, _) in files.items()]
    response = client_as(people.citizen_a).post(URL, {**api_payload(), "attachments": uploads}, format="multipart")
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    attachments = {a.original_name: a for a in dossier.attachments.all()}
    assert set(attachments) == set(files)
    on_disk = stored_files(files_root)
    assert len(on_disk) == 4
    for name, (content, content_type) in files.items():
        attachment = attachments[name]
        assert attachment.content_type == content_type
        assert attachment.size == len(content)
        assert STORED_NAME.fullmatch(attachment.stored_name)
        assert Path(name).stem not in attachment.stored_name
        assert (files_root / attachment.stored_name).read_bytes() == content
    listed = {a["name"]: a for a in response.json()["attachments"]}
    assert set(listed) == set(files)
    assert all(a["url"].startswith(f"/api/v1/dossiers/{dossier.code}/attachments/") for a in listed.values())


def test_files_are_stored_outside_the_web_root():
    root = Path(django_settings.DOSSIER_FILES_ROOT).resolve()
    web_roots = [
        django_settings.STATIC_ROOT,
        django_settings.MEDIA_ROOT,
        *getattr(django_settings, "STATICFILES_DIRS", []),
        django_settings.BASE_DIR / "templates",
    ]
    for web_root in web_roots:
        web_root = Path(web_root).resolve()
        assert not root.is_relative_to(web_root) and not web_root.is_relative_to(root), web_root


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ([upload("don.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")], "HTML named .pdf"),
        ([upload("to-khai.docx", _zip_not_docx())], "a zip that is not a docx"),
        ([upload("rong.pdf", b"")], "empty"),
        ([upload("a.pdf", PDF), upload("b.exe", b"MZ\x90\x00")], "one good and one bad: nothing kept"),
    ],
)
def test_attachments_refused_by_content(files, why, api_payload, people, client_as, files_root):
    before = counts()
    response = client_as(people.citizen_a).post(URL, {**api_payload(), "attachments": files}, format="multipart")
    assert response.status_code == 400, why
    assert list(response.json()) == ["attachments"], why
    assert counts() == before
    assert stored_files(files_root) == []


def test_attachment_over_the_size_limit(api_payload, people, client_as, files_root, settings):
    settings.DOSSIER_ATTACHMENT_MAX_BYTES = 1000
    before = counts()
    big = upload("lon.pdf", PDF + b"0" * 1000)
    response = client_as(people.citizen_a).post(URL, {**api_payload(), "attachments": [big]}, format="multipart")
    assert response.status_code == 400
    assert list(response.json()) == ["attachments"]
    assert "lon.pdf" in response.json()["attachments"][0]
    assert counts() == before
    assert stored_files(files_root) == []
    # Exactly at the limit is accepted.
    exact = upload("vua.pdf", (PDF + b"0" * 1000)[:1000])
    response = client_as(people.citizen_a).post(URL, {**api_payload(), "attachments": [exact]}, format="multipart")
    assert response.status_code == 201


# DOCX containers that must not be kept for an official to open. The bomb is
# the reported one, at the real limits: document.xml inflates to 1 GB from
# ~1 MB on the wire (well under the 10 MB upload limit).
HOSTILE_DOCX = {
    "zip-bomb": (lambda: zips.docx(document=zips.zeros("word/document.xml", 1024**3)), "zip bomb"),
    "parent-path": (lambda: zips.docx(zips.deflated("../../evil.xml", b"<x/>")), "unsafe path: '../../evil.xml'"),
    "understated-size": (
        lambda: zips.docx(document=zips.zeros("word/document.xml", 200 * 1024**2, claimed_size=1024**2)),
        "zip bomb",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_DOCX))
def test_hostile_docx_is_refused_and_nothing_is_stored(case, api_payload, people, client_as, files_root):
    build, expected = HOSTILE_DOCX[case]
    content = build()
    assert len(content) < django_settings.DOSSIER_ATTACHMENT_MAX_BYTES
    before = counts()
    body = {**api_payload(), "attachments": [upload("a.pdf", PDF), upload("to-khai.docx", content)]}
    response = client_as(people.citizen_a).post(URL, body, format="multipart")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["attachments"]
    (problem,) = response.json()["attachments"]
    assert problem.startswith("to-khai.docx: Tệp zip") and " / to-khai.docx: " in problem
    assert expected in problem
    assert counts() == before
    assert stored_files(files_root) == []


def test_a_pdf_named_html_downloads_as_pdf(api_payload, people, client_as, files_root):
    files = [upload("x.html", PDF, "text/html"), upload("Giấy khai sinh.html", PNG, "text/html")]
    response = client_as(people.citizen_a).post(URL, {**api_payload(), "attachments": files}, format="multipart")
    assert response.status_code == 201, response.json()
    listed = {a["name"]: a["url"] for a in response.json()["attachments"]}
    pdf = client_as(people.citizen_a).get(listed["x.html"])
    assert pdf.status_code == 200
    assert pdf["Content-Disposition"] == 'attachment; filename="x.pdf"'
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["X-Content-Type-Options"] == "nosniff"
    assert pdf["Cache-Control"] == "private, no-store"
    assert b"".join(pdf.streaming_content) == PDF
    png = client_as(people.citizen_a).get(listed["Giấy khai sinh.html"])
    assert png["Content-Type"] == "image/png"
    assert png["Content-Disposition"] == (
        "attachment; filename=\"Giay khai sinh.png\"; filename*=UTF-8''Gi%E1%BA%A5y%20khai%20sinh.png"
    )


def test_default_size_limit_is_ten_megabytes():
    assert django_settings.DOSSIER_ATTACHMENT_MAX_BYTES == 10 * 1024 * 1024


def test_too_many_attachments(api_payload, people, client_as, files_root, settings):
    settings.DOSSIER_ATTACHMENT_MAX_COUNT = 2
    before = counts()
    files = [upload(f"{i}.pdf", PDF) for i in range(3)]
    response = client_as(people.citizen_a).post(URL, {**api_payload(), "attachments": files}, format="multipart")
    assert response.status_code == 400
    assert list(response.json()) == ["attachments"]
    assert counts() == before
    assert stored_files(files_root) == []


def test_no_file_left_when_validation_fails(api_payload, people, client_as, files_root):
    before = counts()
    body = {**api_payload(procedure="0.000000"), "attachments": [upload("a.pdf", PDF)]}
    response = client_as(people.citizen_a).post(URL, body, format="multipart")
    assert response.status_code == 400
    assert list(response.json()) == ["procedure"]
    assert counts() == before
    assert stored_files(files_root) == []


def test_no_file_left_when_the_transaction_fails_after_writing(submit, people, files_root, monkeypatch):
    from dossiers import services
    from dossiers.attachments import attachments_check

    checked, _ = attachments_check([upload("a.pdf", PDF), upload("b.png", PNG)])
    before = counts()

    def explode(change):
        # The files are on disk by now: the failure must remove them.
        assert len(stored_files(files_root)) == 2
        raise RuntimeError("disk full")

    # The last step of an online submission is announcing its `submit` event
    # (issue #15: it is counted only when the desk receives it).
    monkeypatch.setattr(services, "dossier_changed_emit", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        submit(files=checked)
    assert stored_files(files_root) == []
    assert counts() == before


# --- who receives, on which channel ------------------------------------------------


def test_desk_officer_receives_in_person_at_their_own_desk(api_payload, people, client_as, points):
    # The body names another point: ignored, the desk is the officer's own.
    response = client_as(people.desk_main).post(
        URL, api_payload(channel=1, receiving_point=points.desk.code), format="json"
    )
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    assert (dossier.receiving_point, dossier.channel) == (points.centre, 1)
    assert dossier.code.startswith("000.00.13.H04-")
    event = dossier.events.get()
    assert (event.actor_point, event.actor_role) == (points.centre, "desk_officer")
    # The citizen ID belongs to citizen A's account: the dossier is A's.
    assert dossier.applicant == people.citizen_a
    # Without receiving_point at all, too.
    response = client_as(people.desk_main).post(URL, api_payload(channel=1, receiving_point=None), format="json")
    assert response.status_code == 201


def test_commune_desk_and_commune_level_procedure(api_payload, people, client_as, points, catalogue):
    client = client_as(people.desk_commune)
    response = client.post(URL, api_payload(channel=1, procedure=catalogue.commune.code), format="json")
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    assert dossier.receiving_point == points.desk
    assert dossier.code.startswith(points.desk.receiving_unit_identifier + "-")
    # Commune-level: the people's committee of the desk's commune handles it.
    assert dossier.agency == people.desk_commune.profile.agency
    response = client.post(URL, api_payload(channel=1), format="json")
    assert Dossier.objects.get(code=response.json()["code"]).agency.code == "so-tp"


def test_post_office_clerk_receives_by_post(api_payload, people, client_as, points):
    response = client_as(people.post_clerk).post(
        URL, api_payload(channel=3, result_delivery="post", delivery_address="Số 5 Ngô Gia Tự"), format="json"
    )
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    assert (dossier.receiving_point, dossier.channel) == (points.post, 3)
    assert dossier.code.startswith(points.post.receiving_unit_identifier + "-")
    assert (dossier.result_delivery, dossier.delivery_address) == ("post", "Số 5 Ngô Gia Tự")


@pytest.mark.parametrize(
    ("who", "channel"),
    [
        ("citizen_a", 1),
        ("citizen_a", 3),
        ("desk_main", 2),
        ("desk_main", 3),  # not a post office
        ("post_clerk", 1),
        ("post_clerk", 2),
    ],
)
def test_channel_must_fit_the_caller(who, channel, api_payload, people, client_as):
    before = counts()
    response = client_as(getattr(people, who)).post(URL, api_payload(channel=channel), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["channel"]
    assert counts() == before


def test_procedure_not_accepted_by_post(api_payload, people, client_as, catalogue):
    catalogue.main.postal_submission_allowed = False
    catalogue.main.save()
    before = counts()
    response = client_as(people.post_clerk).post(URL, api_payload(channel=3), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["channel"]
    assert counts() == before


# --- bad input on every field ---------------------------------------------------

# (overrides, field named in the 400). "<post>" / "<no_post>" stand for the
# post office of the test commune and the procedure whose result may not go
# by post; None removes the field.
BAD_INPUT = [
    ({"procedure": "0.000000"}, "procedure"),
    ({"procedure": None}, "procedure"),
    ({"procedure": ""}, "procedure"),
    ({"procedure": 1001193}, "procedure"),
    ({"procedure": "x" * 21}, "procedure"),
    ({"applicant_name": ""}, "applicant_name"),
    ({"applicant_name": "   "}, "applicant_name"),
    ({"applicant_name": None}, "applicant_name"),
    ({"applicant_name": 12345}, "applicant_name"),
    ({"applicant_name": ["Nguyễn Văn A"]}, "applicant_name"),
    ({"applicant_name": "x" * 151}, "applicant_name"),
    ({"applicant_name": "Nguyễn\x00A"}, "applicant_name"),
    ({"applicant_id_number": "02709500123"}, "applicant_id_number"),  # 11 digits
    ({"applicant_id_number": "0270950012345"}, "applicant_id_number"),  # 13 digits
    ({"applicant_id_number": "02709500123A"}, "applicant_id_number"),
    ({"applicant_id_number": "abcdefghijkl"}, "applicant_id_number"),
    ({"applicant_id_number": "000095001234"}, "applicant_id_number"),  # province 000
    ({"applicant_id_number": "003095001234"}, "applicant_id_number"),  # no province 003
    ({"applicant_id_number": "099095001234"}, "applicant_id_number"),  # beyond 096
    ({"applicant_id_number": 27095001234}, "applicant_id_number"),
    ({"applicant_id_number": None}, "applicant_id_number"),
    ({"applicant_address": ""}, "applicant_address"),
    ({"applicant_address": "  "}, "applicant_address"),
    ({"applicant_address": None}, "applicant_address"),
    ({"applicant_address": 7}, "applicant_address"),
    ({"applicant_address": "x" * 301}, "applicant_address"),
    ({"applicant_phone": "gọi tôi"}, "applicant_phone"),
    ({"applicant_phone": 912345678}, "applicant_phone"),
    ({"applicant_phone": "0" * 21}, "applicant_phone"),
    ({"applicant_email": "not-an-email"}, "applicant_email"),
    ({"applicant_email": "a@b@c"}, "applicant_email"),
    ({"channel": 7}, "channel"),
    ({"channel": 0}, "channel"),
    ({"channel": "x"}, "channel"),
    ({"channel": None}, "channel"),
    ({"channel": True}, "channel"),
    ({"channel": [2]}, "channel"),
    ({"receiving_point": "KHONG-CO"}, "receiving_point"),
    ({"receiving_point": None}, "receiving_point"),
    ({"receiving_point": "<post>"}, "receiving_point"),  # a post office, for an online dossier
    ({"receiving_point": 13}, "receiving_point"),
    ({"result_delivery": "fax"}, "result_delivery"),
    ({"result_delivery": 1}, "result_delivery"),
    ({"result_delivery": "post"}, "delivery_address"),
    ({"result_delivery": "post", "delivery_address": "   "}, "delivery_address"),
    ({"result_delivery": "post", "delivery_address": "x" * 301}, "delivery_address"),
    ({"procedure": "<no_post>", "result_delivery": "post", "delivery_address": "Số 5 Ngô Gia Tự"}, "result_delivery"),
    ({"applicant_commune": "99999"}, "applicant_commune"),
    ({"applicant_commune": 10}, "applicant_commune"),
    ({"lon": 106.07}, "lat"),
    ({"lat": 21.18}, "lon"),
    ({"lon": 105.8542, "lat": 21.0285}, "location"),  # Hoàn Kiếm, Hà Nội: outside the province
    ({"lon": 200, "lat": 21.18}, "lon"),
    ({"lon": 106.07, "lat": "north"}, "lat"),
    ({"lon": "nan", "lat": 21.18}, "lon"),
    ({"lon": 106.07, "lat": 21.18, "location": {"type": "Point", "coordinates": [106.07, 21.18]}}, "location"),
    ({"location": {"type": "Point", "coordinates": [105.8542, 21.0285]}}, "location"),  # Hà Nội again
    ({"location": {"type": "MultiPoint", "coordinates": [[106.07, 21.18]]}}, "location"),
    ({"location": "0101000000C3F5285C8F825A40A4703D0AD7233540"}, "location"),  # hex WKB is not GeoJSON
    ({"note": "x" * 4001}, "note"),
    ({"note": 5}, "note"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUT, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_INPUT)])
def test_bad_input_is_400_naming_the_field(overrides, field, api_payload, people, client_as, points, catalogue):
    placeholders = {"<post>": points.post.code, "<no_post>": catalogue.no_post.code}
    overrides = {k: placeholders.get(v, v) if isinstance(v, str) else v for k, v in overrides.items()}
    before = counts()
    response = client_as(people.citizen_a).post(URL, api_payload(**overrides), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == [field], body
    assert all(" / " in text for text in body[field]), body  # Vietnamese / English
    assert counts() == before


def test_many_bad_fields_are_named_together(api_payload, people, client_as):
    response = client_as(people.citizen_a).post(
        URL, api_payload(applicant_name="", channel="x", note=5, lon=999), format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"applicant_name", "channel", "note", "lon"}


def test_inactive_procedure_is_refused(api_payload, people, client_as, catalogue):
    catalogue.main.is_active = False
    catalogue.main.save()
    response = client_as(people.citizen_a).post(URL, api_payload(), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["procedure"]


@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
def test_body_that_is_not_an_object(body, people, client_as):
    before = counts()
    response = client_as(people.citizen_a).post(URL, body, format="json")
    assert response.status_code == 400
    assert counts() == before


def test_malformed_json_is_400(people, client_as):
    response = client_as(people.citizen_a).post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


# --- idempotency ------------------------------------------------------------------


def test_same_key_same_body_returns_the_same_dossier(api_payload, people, client_as):
    client = client_as(people.citizen_a)
    before = counts()
    first = client.post(URL, api_payload(), format="json", HTTP_IDEMPOTENCY_KEY="retry-7f3a")
    assert first.status_code == 201
    assert not first.has_header("Idempotent-Replayed")
    second = client.post(URL, api_payload(), format="json", HTTP_IDEMPOTENCY_KEY="retry-7f3a")
    assert second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["code"] == first.json()["code"]
    after = counts()
    assert after["dossiers"] == before["dossiers"] + 1
    assert after["events"] == before["events"] + 1
    assert after["keys"] == before["keys"] + 1


def test_same_key_different_body_is_422(api_payload, people, client_as):
    client = client_as(people.citizen_a)
    first = client.post(URL, api_payload(), format="json", HTTP_IDEMPOTENCY_KEY="retry-8b")
    assert first.status_code == 201
    before = counts()
    response = client.post(URL, api_payload(note="khác"), format="json", HTTP_IDEMPOTENCY_KEY="retry-8b")
    assert response.status_code == 422
    assert " / " in response.json()["detail"]
    assert counts() == before


def test_keys_are_per_user(api_payload, people, client_as):
    first = client_as(people.citizen_a).post(URL, api_payload(), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    other = client_as(people.citizen_b).post(
        URL, api_payload(applicant_id_number="001188765432"), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert (first.status_code, other.status_code) == (201, 201)
    assert first.json()["code"] != other.json()["code"]


def test_without_a_key_a_retry_makes_a_second_dossier(api_payload, people, client_as):
    client = client_as(people.citizen_a)
    codes = {client.post(URL, api_payload(), format="json").json()["code"] for _ in range(2)}
    assert len(codes) == 2


def test_idempotent_multipart_compares_the_files(api_payload, people, client_as, files_root):
    client = client_as(people.citizen_a)

    def send(content: bytes):
        body = {**api_payload(), "attachments": [upload("a.pdf", content)]}
        return client.post(URL, body, format="multipart", HTTP_IDEMPOTENCY_KEY="files-1")

    first = send(PDF)
    assert first.status_code == 201
    again = send(PDF)
    assert (again.status_code, again.json()["code"]) == (200, first.json()["code"])
    assert len(stored_files(files_root)) == 1  # the retry wrote no second copy
    assert send(PDF + b"% changed\n").status_code == 422
    assert len(stored_files(files_root)) == 1


def test_key_longer_than_100_characters(api_payload, people, client_as):
    before = counts()
    response = client_as(people.citizen_a).post(URL, api_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]
    assert counts() == before


def test_service_replay_returns_created_false(people, catalogue, points):
    submission = Submission(
        procedure_code=catalogue.main.code,
        applicant_name="Nguyễn Văn A",
        applicant_id_number=CITIZEN_A_ID,
        applicant_address="Bắc Ninh",
        channel=2,
        receiving_point_code=points.centre.code,
    )
    first, created = dossier_submit(submission=submission, acting_user=people.citizen_a, idempotency_key="svc")
    again, created_again = dossier_submit(submission=submission, acting_user=people.citizen_a, idempotency_key="svc")
    assert (created, created_again, again.pk) == (True, False, first.pk)
