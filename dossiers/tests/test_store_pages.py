"""The pages of the document store and drafts (issue #15): "Giấy tờ của tôi"
(upload, refusal, delete), "Lưu nháp" on the submit page, the drafts on
"Hồ sơ của tôi", a reopened draft filling the form again, and a submission
choosing a stored document; nobody else reaches a document or a draft."""

import pytest
from django.test import Client

from dossiers.models import Attachment, Dossier, DossierDraft, StoredDocument

from .conftest import CITIZEN_A_ID
from .test_store import ANSWERS, EXE, PDF, PNG, procedure  # noqa: F401 (fixture)
from .test_submit import stored_files, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def files_root(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private-dossiers"
    return settings.DOSSIER_FILES_ROOT


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_my_documents_page_upload_refusal_and_delete(people, files_root, django_capture_on_commit_callbacks):
    client = signed_in(people.citizen_a)
    page = client.get("/me/documents/")
    assert page.status_code == 200 and "Giấy tờ của tôi" in page.content.decode()
    refused = client.post("/me/documents/", {"file": upload("virus.pdf", EXE)})
    assert refused.status_code == 400
    assert "loại tệp không được chấp nhận" in refused.content.decode()
    assert StoredDocument.objects.count() == 0 and stored_files(files_root) == []

    kept = client.post("/me/documents/", {"file": upload("cccd.png", PNG), "kind": "cccd"}, follow=True)
    assert kept.status_code == 200
    document = StoredDocument.objects.get(owner=people.citizen_a)
    assert "cccd.png" in kept.content.decode()

    # Another citizen cannot delete it.
    assert signed_in(people.citizen_b).post(f"/me/documents/{document.pk}/delete/").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/me/documents/{document.pk}/delete/").status_code == 302
    assert not StoredDocument.objects.exists() and stored_files(files_root) == []


def _form(points, **extra) -> dict:
    return {
        "applicant_name": "Nguyễn Văn A",
        "applicant_id_number": CITIZEN_A_ID,
        "applicant_address": "Số 1 đường Lý Thái Tổ",
        "receiving_point": points.centre.code,
        "result_delivery": "desk",
        "form_token": "page-token-1",
        **extra,
    }


def test_save_a_draft_reopen_it_and_submit_with_a_stored_document(people, files_root, procedure, points):  # noqa: F811
    client = signed_in(people.citizen_a)
    url = f"/procedures/{procedure.code}/submit/"
    client.post("/me/documents/", {"file": upload("cccd.png", PNG), "kind": "cccd"})
    cccd = StoredDocument.objects.get(owner=people.citizen_a)

    page = client.get(url).content.decode()
    assert 'id="save-draft-button"' in page
    assert f'<option value="{cccd.pk}">cccd.png' in page  # offered in the CCCD slot

    saved = client.post(
        url,
        _form(
            points,
            save_draft="1",
            **{
                "eform-to-khai-child_name": "Nguyễn Văn Bé",
                "documents[cccd]": str(cccd.pk),
                "components[giay-chung-sinh]": upload("chung-sinh.pdf", PDF),
            },
        ),
    )
    draft = DossierDraft.objects.get(owner=people.citizen_a)
    assert saved.status_code == 302 and saved["Location"] == f"{url}?draft={draft.pk}"
    assert Dossier.objects.filter(procedure=procedure).count() == 0
    certificate = StoredDocument.objects.get(owner=people.citizen_a, kind="giay-chung-sinh")
    assert draft.documents == {"cccd": [cccd.pk], "giay-chung-sinh": [certificate.pk]}

    mine = client.get("/dossiers/mine/").content.decode()
    assert f'data-draft="{draft.pk}"' in mine and f"?draft={draft.pk}" in mine

    reopened = client.get(f"{url}?draft={draft.pk}").content.decode()
    assert 'id="draft-notice"' in reopened
    assert 'value="Nguyễn Văn Bé"' in reopened
    assert 'value="Số 1 đường Lý Thái Tổ"' in reopened
    assert f'<option value="{cccd.pk}" selected>' in reopened
    assert f'<option value="{certificate.pk}" selected>' in reopened
    # Nobody else reopens it.
    assert signed_in(people.citizen_b).get(f"{url}?draft={draft.pk}").status_code == 404
    assert signed_in(people.desk_main).get(f"{url}?draft={draft.pk}").status_code == 404

    submitted = client.post(
        url,
        _form(
            points,
            draft=str(draft.pk),
            **{
                "eform-to-khai-child_name": ANSWERS["child_name"],
                "documents[cccd]": str(cccd.pk),
                "documents[giay-chung-sinh]": str(certificate.pk),
            },
        ),
    )
    assert submitted.status_code == 302, submitted.content.decode()[:3000]
    dossier = Dossier.objects.get(procedure=procedure)
    assert dict(Attachment.objects.filter(dossier=dossier).values_list("component_code", "sha256")) == {
        "cccd": cccd.sha256,
        "giay-chung-sinh": certificate.sha256,
    }
    assert not DossierDraft.objects.exists()


def test_a_draft_page_submit_missing_a_component_keeps_the_draft(people, files_root, procedure, points):  # noqa: F811
    client = signed_in(people.citizen_a)
    url = f"/procedures/{procedure.code}/submit/"
    client.post(url, _form(points, save_draft="1"))
    draft = DossierDraft.objects.get(owner=people.citizen_a)
    response = client.post(url, _form(points, draft=str(draft.pk)))
    assert response.status_code == 422
    assert "Thiếu thành phần bắt buộc" in response.content.decode()
    assert DossierDraft.objects.filter(pk=draft.pk).exists()
    assert Dossier.objects.filter(procedure=procedure).count() == 0


def test_a_foreign_document_on_the_page_is_refused(people, files_root, procedure, points):  # noqa: F811
    signed_in(people.citizen_b).post("/me/documents/", {"file": upload("b.png", PNG)})
    foreign = StoredDocument.objects.get(owner=people.citizen_b)
    client = signed_in(people.citizen_a)
    url = f"/procedures/{procedure.code}/submit/"
    response = client.post(
        url,
        _form(
            points,
            **{
                "eform-to-khai-child_name": ANSWERS["child_name"],
                "documents[cccd]": str(foreign.pk),
                "components[giay-chung-sinh]": upload("cs.pdf", PDF),
            },
        ),
    )
    assert response.status_code == 400
    assert f"Không có giấy tờ số {foreign.pk}" in response.content.decode()
    assert Dossier.objects.filter(procedure=procedure).count() == 0
    assert StoredDocument.objects.filter(owner=people.citizen_a).count() == 0


def test_deleting_a_draft_from_my_dossiers(people, procedure, points):  # noqa: F811
    client = signed_in(people.citizen_a)
    client.post(f"/procedures/{procedure.code}/submit/", _form(points, save_draft="1"))
    draft = DossierDraft.objects.get()
    assert signed_in(people.citizen_b).post(f"/dossiers/drafts/{draft.pk}/delete/").status_code == 404
    assert client.post(f"/dossiers/drafts/{draft.pk}/delete/").status_code == 302
    assert not DossierDraft.objects.exists()
