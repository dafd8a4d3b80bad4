"""Supplements carry files (issue #15): while the dossier waits for a
supplement, the applicant uploads the missing files (API and page) and the
dossier moves to `supplemented`; the event lists the files; the officer's
answer and page show what changed since the request. The access matrix; a
refused call changes nothing, on disk either."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dossiers.models import Attachment, Dossier, DossierEvent

from .conftest import local

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def files_root(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private"
    return settings.DOSSIER_FILES_ROOT


@pytest.fixture
def waiting(submit, people, files_root):
    """Citizen A's dossier, being processed, asked for a supplement by the
    processing officer."""
    from dossiers.services import dossier_transition

    dossier = submit(received_at=local(2026, 3, 2, 9))
    for action, user, note in (
        ("assign", people.desk_main, ""),
        ("start", people.processor, ""),
        ("request_supplement", people.processor, "Thiếu bản sao giấy khai sinh"),
    ):
        dossier_transition(code=dossier.code, action=action, acting_user=user, note=note)
    return Dossier.objects.get(pk=dossier.pk)


def _files(*named):
    return [SimpleUploadedFile(name, content) for name, content in named]


def _supplement(client, dossier, files, **fields):
    return client.post(
        f"/api/v1/dossiers/{dossier.code}/supplement/", {"attachments": files, **fields}, format="multipart"
    )


def _state(dossier) -> tuple:
    row = Dossier.objects.get(pk=dossier.pk)
    return (row.status, row.updated_at, Attachment.objects.filter(dossier=row).count(), row.events.count())


def _stored(files_root) -> list:
    return sorted(files_root.iterdir()) if files_root.exists() else []


def test_the_access_matrix_of_handing_in_a_supplement(waiting, people, client_as, files_root):
    before, on_disk = _state(waiting), _stored(files_root)
    files = lambda: _files(("khai-sinh.pdf", PDF))  # noqa: E731 - a fresh upload per call
    assert _supplement(client_as(None), waiting, files()).status_code == 401
    for outsider in (people.citizen_b, people.desk_commune, people.post_clerk, people.processor_other):
        assert _supplement(client_as(outsider), waiting, files()).status_code == 404, outsider
    # Officials of the processing side and the administrator see it but do not hand in supplements.
    for reader in (people.processor, people.leader, people.administrator):
        response = _supplement(client_as(reader), waiting, files())
        assert response.status_code == 409, reader
    assert (_state(waiting), _stored(files_root)) == (before, on_disk)

    response = _supplement(
        client_as(people.citizen_a),
        waiting,
        _files(("khai-sinh.pdf", PDF), ("anh-cccd.png", PNG)),
        note="Đã bổ sung bản sao",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "supplemented"
    since = body["supplement"]["since_request"]
    assert since["request_note"] == "Thiếu bản sao giấy khai sinh"
    assert [f["name"] for f in since["files_added"]] == ["khai-sinh.pdf", "anh-cccd.png"]
    assert since["supplemented_by"] == "Nguyễn Văn A"
    event = DossierEvent.objects.filter(dossier=waiting).latest("at", "id")
    assert (event.action, event.from_status, event.to_status) == ("supplement", "waiting_supplement", "supplemented")
    assert "khai-sinh.pdf" in event.note and "anh-cccd.png" in event.note and "Đã bổ sung bản sao" in event.note
    assert len(_stored(files_root)) == len(on_disk) + 2
    # Once handed in, not again.
    assert _supplement(client_as(people.citizen_a), waiting, files()).status_code == 409


def test_bad_input_is_400_naming_the_field_and_changes_nothing(waiting, people, client_as, files_root):
    client = client_as(people.citizen_a)
    before, on_disk = _state(waiting), _stored(files_root)
    for files in ([], _files(("a.html", b"<html><script>x</script></html>")), _files(("empty.pdf", b""))):
        response = _supplement(client, waiting, files)
        assert (response.status_code, list(response.json())) == (400, ["attachments"]), files
    eleven = _files(*[(f"p{i}.pdf", PDF) for i in range(11)])
    assert list(_supplement(client, waiting, eleven).json()) == ["attachments"]
    response = _supplement(client, waiting, _files(("a.pdf", PDF)), note="x" * 4001)
    assert (response.status_code, list(response.json())) == (400, ["note"])
    assert (_state(waiting), _stored(files_root)) == (before, on_disk)


def test_only_while_waiting_and_the_clock_restarts(submit, drive, waiting, people, client_as):
    processing = drive(submit(received_at=local(2026, 3, 2, 9)), "processing")
    response = _supplement(client_as(people.citizen_a), processing, _files(("a.pdf", PDF)))
    assert response.status_code == 409
    assert response.json()["status"] == "processing"
    # The desk may hand in the paper supplement's scans for the applicant.
    due_before = waiting.due_at
    response = _supplement(client_as(people.desk_main), waiting, _files(("scan.pdf", PDF)))
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert waiting.paused_at is None and waiting.due_at >= due_before


def test_what_changed_counts_only_the_last_round(waiting, people, client_as):
    from dossiers.services import dossier_transition

    citizen = client_as(people.citizen_a)
    assert _supplement(citizen, waiting, _files(("vong-1.pdf", PDF))).status_code == 200
    for action in ("start", "request_supplement"):
        dossier_transition(code=waiting.code, action=action, acting_user=people.processor, note="Thiếu chữ ký")
    officer_view = client_as(people.processor).get(f"/api/v1/dossiers/{waiting.code}/").json()["supplement"]
    assert officer_view["may_upload"] is False
    since = officer_view["since_request"]
    assert (since["round"], since["request_note"], since["files_added"], since["supplemented_at"]) == (
        2,
        "Thiếu chữ ký",
        [],
        None,
    )
    assert citizen.get(f"/api/v1/dossiers/{waiting.code}/").json()["supplement"]["may_upload"] is True
    assert _supplement(citizen, waiting, _files(("vong-2.pdf", PDF))).status_code == 200
    since = client_as(people.processor).get(f"/api/v1/dossiers/{waiting.code}/").json()["supplement"]["since_request"]
    assert [f["name"] for f in since["files_added"]] == ["vong-2.pdf"]
    # The files are the dossier's attachments, downloadable by the officer.
    response = client_as(people.processor).get(since["files_added"][0]["url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF


def test_the_pages_upload_and_show_what_changed(waiting, people, client):
    client.force_login(people.citizen_a)
    page = client.get(f"/dossiers/{waiting.code}/").content.decode()
    assert 'id="supplement-form"' in page and "Thiếu bản sao giấy khai sinh" in page
    assert 'id="action-supplement"' not in page  # no supplement without its files, on the page
    assert 'id="action-withdraw"' in page
    response = client.post(f"/dossiers/{waiting.code}/supplement/", {"note": "không có tệp"})
    assert response.status_code == 400
    assert Dossier.objects.get(pk=waiting.pk).status == "waiting_supplement"
    response = client.post(
        f"/dossiers/{waiting.code}/supplement/",
        {"attachments": [SimpleUploadedFile("ban-sao.pdf", PDF)], "note": "gửi bổ sung"},
    )
    assert response.status_code == 302
    assert Dossier.objects.get(pk=waiting.pk).status == "supplemented"
    client.force_login(people.processor)
    page = client.get(f"/dossiers/{waiting.code}/").content.decode()
    assert 'id="supplement-changes"' in page and "ban-sao.pdf" in page
    assert 'id="supplement-form"' not in page
    client.force_login(people.citizen_b)
    assert client.post(f"/dossiers/{waiting.code}/supplement/", {}).status_code == 404
