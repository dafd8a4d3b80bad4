"""A NUL byte (or a lone UTF-16 surrogate, which has no UTF-8 form) cannot be
stored by PostgreSQL: anywhere in a path, a query parameter, a header, a cookie
or a JSON / form body it is a 400 naming the parameter, for every endpoint
(`gisportal.middleware.UnstorableInputMiddleware`), and nothing changes.
Before the middleware, each of these reached a query and answered 500."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dossiers.models import Dossier, DossierEvent, IdempotencyKey
from layers.models import Feature

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _assert_refused(response, *names: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == set(names), body
    for texts in body.values():
        assert "NUL" in texts[0] and " / " in texts[0]  # Vietnamese / English


@pytest.fixture
def dossier_with_attachment(submit, settings, tmp_path):
    from dossiers.attachments import attachments_check

    settings.DOSSIER_FILES_ROOT = tmp_path / "private"
    checked, _ = attachments_check([SimpleUploadedFile("a.pdf", PDF)])
    return submit(files=checked)


ANONYMOUS_URLS = [
    ("/api/v1/layers/schools/export/?name=%00", "name"),
    ("/api/v1/layers/schools/export/?format=%00", "format"),
    ("/api/v1/service-points/?kind=any&bbox=1,2,3%00", "bbox"),
    ("/api/v1/procedures/?q=khai%00sinh", "q"),
    ("/api/v1/procedures/%00/", "path"),
    ("/api/v1/dossiers/lookup/?code=%00", "code"),
    ("/ogc/collections/%00/items", "path"),
    ("/ogc/collections/schools/items?name=%00", "name"),
    ("/tiles/schools/10/813/451.pbf?x=%00", "x"),
    ("/api/v1/layers/?a%00=1", "a\\u0000"),
    ("/api/v1/layers/?q=%ED%A0%80%00", "q"),
]


@pytest.mark.parametrize(("url", "name"), ANONYMOUS_URLS)
def test_nul_in_a_public_url_is_400_naming_it(api, url, name):
    _assert_refused(api.get(url), name)


def test_nul_in_the_paths_of_a_signed_in_caller_is_400(dossier_with_attachment, people, client_as):
    dossier = dossier_with_attachment
    attachment = dossier.attachments.get()
    client = client_as(people.citizen_a)
    for url in (
        "/api/v1/dossiers/%00/",
        f"/api/v1/dossiers/{dossier.code}%00/",
        "/api/v1/dossiers/%00/slips/receipt.pdf",
        f"/api/v1/dossiers/{dossier.code}/slips/receipt%00.pdf",
        f"/api/v1/dossiers/%00/attachments/{attachment.pk}/",
    ):
        _assert_refused(client.get(url), "path")
    _assert_refused(client.get("/api/v1/dossiers/", {"status": "received\x00"}), "status")
    # The same requests without the NUL work: the refusal is the NUL alone.
    assert client.get(f"/api/v1/dossiers/{dossier.code}/").status_code == 200
    assert client.get(f"/api/v1/dossiers/{dossier.code}/attachments/{attachment.pk}/").status_code == 200


def test_nul_in_a_page_url_is_a_short_bilingual_page(client, people):
    client.force_login(people.citizen_a)
    for url in ("/dossiers/%00/", "/procedures/?q=%00", "/worklist/?status=%00"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert response["Content-Type"].startswith("text/html")
        text = response.content.decode()
        assert "Yêu cầu không hợp lệ / Bad request" in text and "NUL" in text


def test_nul_in_a_header_or_cookie_is_400(api_payload, people, client_as, api):
    before = (Dossier.objects.count(), IdempotencyKey.objects.count())
    response = client_as(people.citizen_a).post(
        "/api/v1/dossiers/", api_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k\x001"
    )
    _assert_refused(response, "Idempotency-Key")
    assert (Dossier.objects.count(), IdempotencyKey.objects.count()) == before
    api.cookies["sessionid"] = "abcdefgh\x00ijkl"
    _assert_refused(api.get("/api/v1/layers/"), "cookie:sessionid")


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"applicant_name": "Nguyễn\u0000 Văn A"}, "applicant_name"),
        ({"note": "ghi chú \ud800"}, "note"),
        ({"applicant_name": None, "applicant": {"name": "A\u0000"}}, "name"),
        ({"x\u0000": "1"}, "x\\u0000"),
    ],
)
def test_nul_in_a_submitted_json_field_is_400_naming_it(override, name, api_payload, people, client_as):
    before = Dossier.objects.count()
    body = json.dumps(api_payload(**override))
    response = client_as(people.citizen_a).post("/api/v1/dossiers/", body, content_type="application/json")
    _assert_refused(response, name)
    assert Dossier.objects.count() == before


def test_nul_in_a_registry_feature_property_is_400_and_nothing_is_written(make_user, client_as):
    editor = make_user("h10_yte_editor", role="processing_officer", agency="so-y-te")
    client = client_as(editor)
    url = "/api/v1/layers/hospitals/features/"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.07, 21.18]}}
    before = Feature.objects.filter(layer__slug="hospitals").count()
    for value, name in (("Bệnh viện\u0000", "name"), ("\udc00", "operator")):
        body = json.dumps({**feature, "properties": {"name": "Bệnh viện thử", name: value}})
        _assert_refused(client.post(url, body, content_type="application/json"), name)
    assert Feature.objects.filter(layer__slug="hospitals").count() == before
    # The same feature without the NUL is written: the refusal is the NUL alone.
    ok = client.post(url, {**feature, "properties": {"name": "Bệnh viện thử"}}, format="json")
    assert ok.status_code == 201, ok.content


def test_nul_in_a_form_field_is_400_and_changes_nothing(submit, people, client, client_as):
    from urllib.parse import urlencode

    dossier = submit()
    client.force_login(people.desk_main)
    api = client_as(people.desk_main)
    form = {"action": "refuse", "note": "thiếu\x00 giấy tờ"}
    page, api_url = f"/dossiers/{dossier.code}/action/", f"/api/v1/dossiers/{dossier.code}/transitions/"
    for response in (
        client.post(page, form),  # multipart, as the test client sends by default
        client.post(page, urlencode(form), content_type="application/x-www-form-urlencoded"),
        api.post(api_url, form, format="multipart"),
        api.post(api_url, urlencode(form), content_type="application/x-www-form-urlencoded"),
    ):
        assert response.status_code == 400
        assert "note" in response.content.decode()
    _assert_refused(api.post(api_url, form, format="multipart"), "note")
    # A URL-encoded PATCH (which Django leaves out of request.POST) too.
    feature = client_as(people.desk_main).patch(
        "/api/v1/layers/hospitals/features/1/",
        urlencode({"name": "x\x00"}),
        content_type="application/x-www-form-urlencoded",
    )
    _assert_refused(feature, "name")
    # Its submission and receipt only (issue #15: an online dossier is submitted, then received).
    assert DossierEvent.objects.filter(dossier=dossier).count() == 2
    assert Dossier.objects.get(pk=dossier.pk).status == "received"


def test_a_json_escape_that_is_not_a_nul_passes(api_payload, people, client_as):
    # "\\u0000" is a backslash followed by "u0000": storable text.
    body = json.dumps(api_payload(note="đường dẫn C:\\u0000"))
    response = client_as(people.citizen_a).post("/api/v1/dossiers/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["note"] == "đường dẫn C:\\u0000"
