"""The citizen's document store and drafts (issue #15), through the API:
files kept with their checked type and SHA-256, reused in a submission
instead of a new upload (the dossier's attachment has the same bytes),
another person's document refused with nothing stored, drafts saved,
reopened, replaced and submitted through the one submission service (a
missing component is its 422 and the draft is kept), access scoped to the
owner, expiry, and drafts never counting as dossiers."""

import datetime as dt
import hashlib
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from dossiers.models import (
    Attachment,
    DailyStat,
    Dossier,
    DossierDraft,
    DossierEForm,
    DossierEvent,
    ProcedureComponent,
    StoredDocument,
)

from .test_submit import JPEG, PDF, PNG, URL, counts, stored_files, upload

pytestmark = pytest.mark.django_db

DOCS = "/api/v1/me/documents/"
DRAFTS = "/api/v1/dossiers/drafts/"
IMAGES = ["image/png", "image/jpeg"]
SCHEMA = {
    "type": "object",
    "required": ["child_name"],
    "properties": {"child_name": {"type": "string", "title": "Họ tên người được khai sinh", "minLength": 2}},
}
ANSWERS = {"child_name": "Nguyễn Văn Bé"}
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 32


@pytest.fixture
def files_root(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private-dossiers"
    return settings.DOSSIER_FILES_ROOT


@pytest.fixture
def procedure(catalogue):
    """catalogue.main with an e-form, a required CCCD (images) and a
    required PDF certificate."""
    rows = [
        ProcedureComponent(procedure=catalogue.main, code="to-khai", name="Tờ khai", form_schema=SCHEMA, copies=0),
        ProcedureComponent(procedure=catalogue.main, code="cccd", name="Căn cước công dân", accepted_types=IMAGES),
        ProcedureComponent(
            procedure=catalogue.main, code="giay-chung-sinh", name="Giấy chứng sinh", accepted_types=["application/pdf"]
        ),
    ]
    for order, row in enumerate(rows):
        row.order = order
        row.full_clean()
        row.save()
    return catalogue.main


def store(client, name: str, content: bytes, **fields):
    return client.post(DOCS, {"file": upload(name, content), **fields}, format="multipart")


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --- the store ---------------------------------------------------------------------------


def test_a_citizen_keeps_a_document_and_sees_only_their_own(people, client_as, files_root, procedure):
    client = client_as(people.citizen_a)
    response = store(client, "cccd mặt trước.html", PNG, kind="cccd")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "cccd mặt trước.html"
    # Named as the catalogue first named that component code.
    first = ProcedureComponent.objects.filter(code="cccd").order_by("id").first()
    assert (body["kind"], body["kind_name"]) == ("cccd", first.name)
    assert (body["content_type"], body["size"], body["sha256"]) == ("image/png", len(PNG), sha(PNG))
    assert len(stored_files(files_root)) == 1
    # The same bytes again: the document already kept, no second file.
    again = store(client, "other name.png", PNG)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert len(stored_files(files_root)) == 1

    listed = client.get(DOCS).json()
    assert listed["count"] == 1 and [d["id"] for d in listed["results"]] == [body["id"]]
    assert client_as(people.citizen_b).get(DOCS).json()["count"] == 0
    assert client_as(people.desk_main).get(DOCS).json()["count"] == 0
    download = client.get(body["file_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert "cccd mặt trước.png" in download["Content-Disposition"] or "png" in download["Content-Disposition"]


@pytest.mark.parametrize(
    "content, kind, field",
    [
        (EXE, "", "file"),
        (b"<html><script>alert(1)</script></html>", "", "file"),
        (b"", "", "file"),
        (PNG, "not a code!", "kind"),
    ],
)
def test_a_refused_upload_names_the_field_and_stores_nothing(content, kind, field, people, client_as, files_root):
    response = store(client_as(people.citizen_a), "x.pdf", content, kind=kind)
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert " / " in errors[field][0]  # Vietnamese / English
    assert StoredDocument.objects.count() == 0
    assert stored_files(files_root) == []


def test_no_file_is_a_400_naming_file(people, client_as):
    response = client_as(people.citizen_a).post(DOCS, {"kind": "cccd"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()


def test_the_store_has_a_limit(people, client_as, files_root, settings):
    settings.DOSSIER_DOCUMENT_MAX_COUNT = 1
    client = client_as(people.citizen_a)
    assert store(client, "a.png", PNG).status_code == 201
    refused = store(client, "b.pdf", PDF)
    assert refused.status_code == 400 and "file" in refused.json()
    assert len(stored_files(files_root)) == 1


def test_someone_elses_document_is_a_404(people, client_as, files_root):
    document = store(client_as(people.citizen_a), "a.png", PNG).json()
    for user in (people.citizen_b, people.desk_main, people.processor):
        client = client_as(user)
        assert client.get(f"{DOCS}{document['id']}/").status_code == 404
        assert client.get(document["file_url"]).status_code == 404
        assert client.delete(f"{DOCS}{document['id']}/").status_code == 404
    assert StoredDocument.objects.filter(pk=document["id"]).exists()
    assert client_as(None).get(DOCS).status_code == 401


# --- reuse in a submission ---------------------------------------------------------------


def test_a_stored_document_fills_a_component_slot(api_payload, people, client_as, files_root, procedure):
    client = client_as(people.citizen_a)
    document = store(client, "cccd.png", PNG, kind="cccd").json()
    response = client.post(
        URL,
        {
            **api_payload(),
            "forms": json.dumps({"to-khai": ANSWERS}),
            "documents[cccd]": str(document["id"]),
            "components[giay-chung-sinh]": upload("chung-sinh.pdf", PDF),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    cccd = Attachment.objects.get(dossier=dossier, component_code="cccd")
    assert cccd.sha256 == document["sha256"] == sha(PNG)
    assert (cccd.original_name, cccd.content_type, cccd.size) == ("cccd.png", "image/png", len(PNG))
    # The dossier has a file of its own; the store kept the new upload too.
    assert cccd.stored_name != StoredDocument.objects.get(pk=document["id"]).stored_name
    kept = StoredDocument.objects.get(owner=people.citizen_a, sha256=sha(PDF))
    assert (kept.kind, kept.kind_name, kept.dossier_id) == ("giay-chung-sinh", "Giấy chứng sinh", dossier.pk)
    assert StoredDocument.objects.filter(owner=people.citizen_a).count() == 2  # no duplicate of the CCCD

    # Deleting either document leaves the dossier's files as they were.
    for kept_id in (document["id"], kept.pk):
        assert client.delete(f"{DOCS}{kept_id}/").status_code == 204
    assert StoredDocument.objects.filter(owner=people.citizen_a).count() == 0
    for attachment in Attachment.objects.filter(dossier=dossier):
        download = client.get(f"{URL}{dossier.code}/attachments/{attachment.pk}/")
        assert download.status_code == 200
        assert sha(b"".join(download.streaming_content)) == attachment.sha256


def test_json_submission_names_documents_as_an_object(api_payload, people, client_as, files_root, procedure):
    client = client_as(people.citizen_a)
    cccd = store(client, "cccd.jpg", JPEG).json()
    certificate = store(client, "cs.pdf", PDF).json()
    body = api_payload(
        forms={"to-khai": ANSWERS}, documents={"cccd": cccd["id"], "giay-chung-sinh": [certificate["id"]]}
    )
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    hashes = dict(
        Attachment.objects.filter(dossier__code=response.json()["code"]).values_list("component_code", "sha256")
    )
    assert hashes == {"cccd": sha(JPEG), "giay-chung-sinh": sha(PDF)}


def test_a_stored_document_of_the_wrong_type_for_the_slot_is_the_components_422(
    api_payload, people, client_as, files_root, procedure
):
    client = client_as(people.citizen_a)
    pdf = store(client, "cs.pdf", PDF).json()
    before = counts()
    response = client.post(
        URL,
        {**api_payload(), "forms": json.dumps({"to-khai": ANSWERS}), "documents[cccd]": pdf["id"]},
        format="multipart",
    )
    assert response.status_code == 422
    assert "cccd" in response.json()["components"]
    assert counts() == before


@pytest.mark.parametrize("value", ["foreign", "999999999", "abc"])
def test_another_persons_document_is_refused_and_nothing_is_stored(
    value, api_payload, people, client_as, files_root, procedure
):
    foreign = store(client_as(people.citizen_b), "b.png", PNG).json()
    before, files_before, documents_before = counts(), stored_files(files_root), StoredDocument.objects.count()
    response = client_as(people.citizen_a).post(
        URL,
        {
            **api_payload(),
            "forms": json.dumps({"to-khai": ANSWERS}),
            "documents[cccd]": str(foreign["id"]) if value == "foreign" else value,
            "components[giay-chung-sinh]": upload("chung-sinh.pdf", PDF),
        },
        format="multipart",
    )
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["documents[cccd]"]
    assert " / " in errors["documents[cccd]"][0]
    assert counts() == before
    assert stored_files(files_root) == files_before
    assert StoredDocument.objects.count() == documents_before


def test_a_forbidden_file_in_a_submission_stores_nothing(api_payload, people, client_as, files_root, procedure):
    client = client_as(people.citizen_a)
    document = store(client, "cccd.png", PNG).json()
    before, files_before = counts(), stored_files(files_root)
    response = client.post(
        URL,
        {
            **api_payload(),
            "forms": json.dumps({"to-khai": ANSWERS}),
            "documents[cccd]": document["id"],
            "components[giay-chung-sinh]": upload("chung-sinh.pdf", EXE),
        },
        format="multipart",
    )
    assert response.status_code == 422
    assert "giay-chung-sinh" in response.json()["components"]
    assert counts() == before
    assert stored_files(files_root) == files_before
    assert StoredDocument.objects.count() == 1


# --- drafts ------------------------------------------------------------------------------


def draft_body(procedure, points, **extra) -> dict:
    return {
        "procedure": procedure.code,
        "applicant_name": "Nguyễn Văn A",
        "receiving_point": points.centre.code,
        "lon": "106.0763",
        "lat": "21.1861",
        **extra,
    }


def test_save_reopen_replace_and_submit_a_draft(people, client_as, files_root, procedure, points):
    from .conftest import CITIZEN_A_ID

    client = client_as(people.citizen_a)
    before = counts()
    cccd = store(client, "cccd.png", PNG, kind="cccd").json()
    saved = client.post(
        DRAFTS,
        draft_body(
            procedure,
            points,
            **{
                "forms": json.dumps({"to-khai": {"child_name": "B"}}),  # too short: fine in a draft
                "documents[cccd]": cccd["id"],
                "components[giay-chung-sinh]": upload("chung-sinh.pdf", PDF),
            },
        ),
        format="multipart",
    )
    assert saved.status_code == 201, saved.json()
    draft = saved.json()
    assert draft["fields"] == {
        "applicant_name": "Nguyễn Văn A",
        "receiving_point": points.centre.code,
        "lon": 106.0763,
        "lat": 21.1861,
    }
    assert [d["id"] for d in draft["documents"]["cccd"]] == [cccd["id"]]
    (certificate,) = draft["documents"]["giay-chung-sinh"]
    assert certificate["sha256"] == sha(PDF) and certificate["kind"] == "giay-chung-sinh"
    expires = dt.datetime.fromisoformat(draft["expires_at"]) - dt.datetime.fromisoformat(draft["updated_at"])
    assert expires == dt.timedelta(days=30)
    # The file sent with the draft is in the store; no dossier exists.
    assert StoredDocument.objects.filter(owner=people.citizen_a).count() == 2
    assert counts() == before

    reopened = client.get(f"{DRAFTS}{draft['id']}/").json()
    assert reopened["forms"] == {"to-khai": {"child_name": "B"}}
    assert client.get(DRAFTS).json()["count"] == 1

    # Replaced with the rest of the form (the documents named again, by id).
    replaced = client.put(
        f"{DRAFTS}{draft['id']}/",
        draft_body(
            procedure,
            points,
            applicant_id_number=CITIZEN_A_ID,
            applicant_address="Số 1 đường Lý Thái Tổ",
            forms={"to-khai": ANSWERS},
            documents={"cccd": [cccd["id"]], "giay-chung-sinh": [certificate["id"]]},
        ),
        format="json",
    )
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["fields"]["applicant_address"] == "Số 1 đường Lý Thái Tổ"

    submitted = client.post(f"{DRAFTS}{draft['id']}/submit/")
    assert submitted.status_code == 201, submitted.json()
    dossier = Dossier.objects.get(code=submitted.json()["code"])
    assert dossier.applicant == people.citizen_a and dossier.channel == 2
    assert dossier.receiving_point == points.centre
    assert (dossier.location.x, dossier.location.y) == pytest.approx((106.0763, 21.1861))
    assert dict(Attachment.objects.filter(dossier=dossier).values_list("component_code", "sha256")) == {
        "cccd": sha(PNG),
        "giay-chung-sinh": sha(PDF),
    }
    assert DossierEForm.objects.get(dossier=dossier).answers == ANSWERS
    assert DossierEvent.objects.filter(dossier=dossier, action="submit", actor=people.citizen_a).exists()
    assert not DossierDraft.objects.filter(pk=draft["id"]).exists()
    assert client.get(f"{DRAFTS}{draft['id']}/").status_code == 404
    assert counts()["dossiers"] == before["dossiers"] + 1


def test_a_draft_missing_a_required_component_is_a_422_and_is_kept(people, client_as, files_root, procedure, points):
    from .conftest import CITIZEN_A_ID

    client = client_as(people.citizen_a)
    saved = client.post(
        DRAFTS,
        draft_body(
            procedure,
            points,
            applicant_id_number=CITIZEN_A_ID,
            applicant_address="Số 1 đường Lý Thái Tổ",
            forms={"to-khai": ANSWERS},
        ),
        format="json",
    ).json()
    before, files_before = counts(), stored_files(files_root)
    response = client.post(f"{DRAFTS}{saved['id']}/submit/")
    assert response.status_code == 422
    missing = response.json()["components"]
    assert set(missing) == {"cccd", "giay-chung-sinh"}
    assert "Thiếu thành phần bắt buộc: Căn cước công dân." in missing["cccd"][0]
    assert counts() == before
    assert stored_files(files_root) == files_before
    kept = DossierDraft.objects.get(pk=saved["id"])
    assert kept.forms == {"to-khai": ANSWERS}
    # A field the service refuses is its 400, the draft kept as well.
    client.put(f"{DRAFTS}{saved['id']}/", draft_body(procedure, points, applicant_id_number="12"), format="json")
    refused = client.post(f"{DRAFTS}{saved['id']}/submit/")
    assert refused.status_code == 400 and "applicant_id_number" in refused.json()
    assert DossierDraft.objects.filter(pk=saved["id"]).exists()


def test_a_draft_naming_a_deleted_document_names_it_when_submitted(people, client_as, files_root, procedure, points):
    client = client_as(people.citizen_a)
    cccd = store(client, "cccd.png", PNG).json()
    saved = client.post(DRAFTS, draft_body(procedure, points, documents={"cccd": cccd["id"]}), format="json").json()
    client.delete(f"{DOCS}{cccd['id']}/")
    assert client.get(f"{DRAFTS}{saved['id']}/").json()["documents"] == {}
    response = client.post(f"{DRAFTS}{saved['id']}/submit/")
    assert response.status_code == 400 and "documents[cccd]" in response.json()
    assert DossierDraft.objects.filter(pk=saved["id"]).exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"procedure": ""}, "procedure"),
        ({"procedure": "0.000000"}, "procedure"),
        ({"applicant_name": 5}, "applicant_name"),
        ({"note": "x" * 4001}, "note"),
        ({"lon": "east"}, "lon"),
        ({"forms": ["not", "an", "object"]}, "forms"),
        ({"documents": ["nope"]}, "documents"),
        ({"documents": {"cccd": "abc"}}, "documents[cccd]"),
        ({"documents": {"cccd": "²"}}, "documents[cccd]"),
        ({"documents": {"cccd": [1] * 11}}, "documents[cccd]"),
        ({"attachment_documents": [{"id": 1}]}, "attachment_documents"),
    ],
)
def test_a_bad_draft_names_the_field_and_saves_nothing(body, field, people, client_as, procedure, points):
    response = client_as(people.citizen_a).post(DRAFTS, {**draft_body(procedure, points), **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert DossierDraft.objects.count() == 0


def test_a_foreign_document_in_a_draft_is_refused(people, client_as, files_root, procedure, points):
    foreign = store(client_as(people.citizen_b), "b.png", PNG).json()
    response = client_as(people.citizen_a).post(
        DRAFTS,
        draft_body(procedure, points, **{"documents[cccd]": foreign["id"], "attachments": upload("a.pdf", PDF)}),
        format="multipart",
    )
    assert response.status_code == 400 and list(response.json()) == ["documents[cccd]"]
    assert DossierDraft.objects.count() == 0
    assert StoredDocument.objects.filter(owner=people.citizen_a).count() == 0


def test_a_forbidden_file_in_a_draft_stores_nothing(people, client_as, files_root, procedure, points):
    response = client_as(people.citizen_a).post(
        DRAFTS,
        draft_body(
            procedure,
            points,
            **{"components[cccd]": upload("a.png", PNG), "components[giay-chung-sinh]": upload("x.pdf", EXE)},
        ),
        format="multipart",
    )
    assert response.status_code == 400 and list(response.json()) == ["components[giay-chung-sinh]"]
    assert DossierDraft.objects.count() == 0 and StoredDocument.objects.count() == 0
    assert stored_files(files_root) == []


def test_drafts_are_private(people, client_as, files_root, procedure, points):
    owner = client_as(people.citizen_a)
    draft = owner.post(DRAFTS, draft_body(procedure, points), format="json").json()
    url = f"{DRAFTS}{draft['id']}/"
    for user in (people.citizen_b, people.desk_main, people.processor, people.leader, people.administrator):
        client = client_as(user)
        assert client.get(url).status_code == 404
        assert client.put(url, draft_body(procedure, points, note="x"), format="json").status_code == 404
        assert client.delete(url).status_code == 404
        assert client.post(f"{url}submit/").status_code == 404
        assert client.get(DRAFTS).json()["count"] == 0
    assert client_as(None).get(url).status_code == 401
    assert DossierDraft.objects.get(pk=draft["id"]).fields.get("note") is None
    assert owner.delete(url).status_code == 204
    assert not DossierDraft.objects.exists()


def test_officials_do_not_save_drafts(people, client_as, procedure, points):
    response = client_as(people.desk_main).post(DRAFTS, draft_body(procedure, points), format="json")
    assert response.status_code == 403
    assert DossierDraft.objects.count() == 0


def test_drafts_never_count_as_dossiers(people, client_as, files_root, procedure, points):
    stats_before = list(DailyStat.objects.values_list("dimension", "key", "day", "received"))
    client_as(people.citizen_a).post(
        DRAFTS, draft_body(procedure, points, **{"components[cccd]": upload("a.png", PNG)}), format="multipart"
    )
    assert DossierDraft.objects.count() == 1
    assert list(DailyStat.objects.values_list("dimension", "key", "day", "received")) == stats_before
    assert Dossier.objects.filter(procedure=procedure).count() == 0
    assert client_as(people.desk_main).get(URL).json()["count"] == 0
    assert client_as(people.citizen_a).get(URL).json()["count"] == 0


def test_drafts_expire(people, client_as, procedure, points):
    client = client_as(people.citizen_a)
    old = client.post(DRAFTS, draft_body(procedure, points), format="json").json()
    fresh = client.post(DRAFTS, draft_body(procedure, points), format="json").json()
    DossierDraft.objects.filter(pk=old["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    # Invisible at once ...
    assert client.get(f"{DRAFTS}{old['id']}/").status_code == 404
    assert [d["id"] for d in client.get(DRAFTS).json()["results"]] == [fresh["id"]]
    # ... and deleted by the cleanup.
    call_command("drafts_expire", verbosity=0)
    assert list(DossierDraft.objects.values_list("pk", flat=True)) == [fresh["id"]]


def test_files_a_desk_officer_receives_stay_out_of_their_store(api_payload, people, client_as, files_root):
    response = client_as(people.desk_main).post(
        URL, {**api_payload(channel=1), "attachments": upload("giay.pdf", PDF)}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert Attachment.objects.filter(dossier__code=response.json()["code"]).count() == 1
    assert StoredDocument.objects.count() == 0


def test_files_a_citizen_sends_join_their_store_once(api_payload, people, client_as, files_root):
    client = client_as(people.citizen_a)
    for key in ("first", "second"):
        response = client.post(
            URL,
            {**api_payload(), "attachments": [upload("giay.pdf", PDF), upload("anh.png", PNG)]},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        assert response.status_code == 201
    kept = StoredDocument.objects.filter(owner=people.citizen_a).order_by("sha256")
    assert sorted(kept.values_list("sha256", flat=True)) == sorted([sha(PDF), sha(PNG)])
    # They share the first dossier's files: no copy was written for the store.
    first = Attachment.objects.filter(dossier__code__in=[kept[0].dossier.code]).values_list("stored_name", flat=True)
    assert set(kept.values_list("stored_name", flat=True)) <= set(first)
    assert len(stored_files(files_root)) == 4  # two dossiers × two files
