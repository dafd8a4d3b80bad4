"""The electronic result (issue #15): the processing officer attaches a PDF
(checked by content, as attachments are) while processing; the leader's
`approve` records on it who, when and the SHA-256 of the bytes (computed
here independently); the applicant downloads it, as an attachment, only
once the result is returned (404 before); the access matrix; a refused call
changes nothing."""

import hashlib
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dossiers.attachments import attachment_path
from dossiers.models import DossierEvent, ResultDocument

from .conftest import local

pytestmark = pytest.mark.django_db

RESULT_PDF = b"%PDF-1.4\n% Phieu ly lich tu phap so 123\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def files_root(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private"
    return settings.DOSSIER_FILES_ROOT


@pytest.fixture
def processing(submit, drive, files_root):
    return drive(submit(received_at=local(2026, 3, 2, 9)), "processing")


def _attach(client, dossier, content=RESULT_PDF, name="Phiếu lý lịch tư pháp.pdf"):
    return client.post(
        f"/api/v1/dossiers/{dossier.code}/result/", {"file": SimpleUploadedFile(name, content)}, format="multipart"
    )


def _download(client, dossier):
    return client.get(f"/api/v1/dossiers/{dossier.code}/result/")


def _state(dossier) -> tuple:
    return (
        ResultDocument.objects.filter(dossier=dossier).count(),
        DossierEvent.objects.filter(dossier=dossier).count(),
    )


def test_who_may_attach(processing, people, client_as, files_root):
    before = _state(processing)
    assert _attach(client_as(None), processing).status_code == 401
    for outsider in (people.citizen_b, people.desk_commune, people.processor_other):
        assert _attach(client_as(outsider), processing).status_code == 404, outsider
    # The applicant, the desk, the leader, the administrator see it but do not attach the result.
    for reader in (people.citizen_a, people.desk_main, people.leader, people.administrator):
        assert _attach(client_as(reader), processing).status_code == 409, reader
    assert _state(processing) == before
    assert not files_root.exists() or not any(files_root.iterdir())  # nothing left on disk
    response = _attach(client_as(people.processor), processing)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(RESULT_PDF).hexdigest()
    assert (body["approved"], body["approved_by"], body["approved_sha256"]) == (False, None, None)
    event = DossierEvent.objects.filter(dossier=processing).latest("at", "id")
    assert (event.action, event.from_status, event.to_status) == ("result_attach", "processing", "processing")
    assert body["sha256"] in event.note


def test_bad_files_are_400_naming_file(processing, people, client_as):
    client = client_as(people.processor)
    before = _state(processing)
    for content in (PNG, b"<html>not a pdf</html>", b""):
        response = _attach(client, processing, content=content, name="ket-qua.pdf")
        assert (response.status_code, list(response.json())) == (400, ["file"]), content[:8]
    response = client.post(f"/api/v1/dossiers/{processing.code}/result/", {}, format="multipart")
    assert (response.status_code, list(response.json())) == (400, ["file"])
    two = [SimpleUploadedFile("a.pdf", RESULT_PDF), SimpleUploadedFile("b.pdf", RESULT_PDF)]
    response = client.post(f"/api/v1/dossiers/{processing.code}/result/", {"file": two}, format="multipart")
    assert (response.status_code, list(response.json())) == (400, ["file"])
    assert _state(processing) == before


def test_only_while_processing(submit, drive, people, client_as, files_root):
    received = submit(received_at=local(2026, 3, 2, 9))
    approved = drive(submit(received_at=local(2026, 3, 2, 9)), "approved")
    for dossier in (received, approved):
        response = _attach(client_as(people.processor), dossier)
        assert response.status_code == 409, dossier.status
        assert "result_attach" in response.json()["detail"]
    assert ResultDocument.objects.filter(dossier__in=[received, approved]).count() == 0


def test_approval_is_recorded_on_the_document_and_the_applicant_downloads_it_once_returned(
    processing, drive, people, client_as
):
    assert _attach(client_as(people.processor), processing).status_code == 201
    citizen = client_as(people.citizen_a)
    # Before it is returned the applicant gets a 404 and sees no document.
    assert _download(citizen, processing).status_code == 404
    assert citizen.get(f"/api/v1/dossiers/{processing.code}/").json()["result"]["document"] is None
    # The leader reads it to approve it.
    response = _download(client_as(people.leader), processing)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == RESULT_PDF

    dossier = drive(processing, "approved", path=[("approve", "leader")])
    document = ResultDocument.objects.get(dossier=dossier)
    expected = hashlib.sha256(RESULT_PDF).hexdigest()
    assert (document.approved_by, document.approved_sha256) == (people.leader, expected)
    approve = DossierEvent.objects.get(dossier=dossier, action="approve")
    assert document.approved_at == approve.at
    assert expected in approve.note
    for state, path in (("result_ready", [("mark_result_ready", "processing_officer")]),):
        dossier = drive(dossier, state, path=path)
        assert _download(citizen, dossier).status_code == 404, state
    dossier = drive(dossier, "result_returned", path=[("return_result", "desk_officer")])

    response = _download(citizen, dossier)
    assert response.status_code == 200
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == expected
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert "filename*=UTF-8''" + quote("Phiếu lý lịch tư pháp.pdf", safe="") in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    shown = citizen.get(f"/api/v1/dossiers/{dossier.code}/").json()["result"]["document"]
    assert (shown["approved"], shown["approved_by"], shown["approved_sha256"]) == (True, "h4_leader_tp", expected)
    # Still nobody else's.
    assert _download(client_as(None), dossier).status_code == 401
    for outsider in (people.citizen_b, people.processor_other, people.desk_commune):
        assert _download(client_as(outsider), dossier).status_code == 404, outsider


def test_a_changed_file_is_not_approved(processing, drive, people, client_as):
    assert _attach(client_as(people.processor), processing).status_code == 201
    document = ResultDocument.objects.get(dossier=processing)
    attachment_path(document.stored_name).write_bytes(RESULT_PDF + b"tampered")
    response = client_as(people.leader).post(
        f"/api/v1/dossiers/{processing.code}/transitions/", {"action": "approve"}, format="json"
    )
    assert response.status_code == 409
    processing.refresh_from_db()
    assert processing.status == "processing"
    document.refresh_from_db()
    assert document.approved_at is None


def test_approving_without_a_result_document_still_works(processing, drive):
    dossier = drive(processing, "approved", path=[("approve", "leader")])
    assert "SHA-256" not in DossierEvent.objects.get(dossier=dossier, action="approve").note


def test_the_pages_attach_and_offer_the_download(processing, drive, people, client):
    client.force_login(people.processor)
    page = client.get(f"/dossiers/{processing.code}/").content.decode()
    assert 'id="result-form"' in page
    response = client.post(
        f"/dossiers/{processing.code}/result/", {"file": SimpleUploadedFile("x.pdf", b"GIF89a not a pdf")}
    )
    assert response.status_code == 400
    assert not ResultDocument.objects.filter(dossier=processing).exists()
    response = client.post(f"/dossiers/{processing.code}/result/", {"file": SimpleUploadedFile("kq.pdf", RESULT_PDF)})
    assert response.status_code == 302
    client.force_login(people.citizen_a)
    assert 'id="result-download"' not in client.get(f"/dossiers/{processing.code}/").content.decode()
    assert (
        client.post(
            f"/dossiers/{processing.code}/result/", {"file": SimpleUploadedFile("kq.pdf", RESULT_PDF)}
        ).status_code
        == 409
    )
    steps = [("approve", "leader"), ("mark_result_ready", "processing_officer"), ("return_result", "desk_officer")]
    dossier = drive(processing, "result_returned", path=steps)
    page = client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert 'id="result-download"' in page and f"/api/v1/dossiers/{dossier.code}/result/" in page
    assert hashlib.sha256(RESULT_PDF).hexdigest() in page
