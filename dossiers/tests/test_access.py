"""The access matrix of every dossier endpoint (list, submit, detail,
transitions, apologies, attachments): anonymous, citizen A (the applicant),
citizen B, officials of another office, the right officials. A refused call
changes nothing. Citizen ID numbers: full to the applicant, masked to
officials, never in a URL the API returns, never in the logs.

(Slips and the public lookup are tested in test_slips / test_lookup.)"""

import json
import logging
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict

from dossiers.models import Apology, Attachment, Dossier, DossierEvent

from .conftest import CITIZEN_A_ID, WALK_IN_ID, local

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def files_root(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private"
    return settings.DOSSIER_FILES_ROOT


@pytest.fixture
def dossier_a(submit, files_root, catalogue):
    """Citizen A's dossier, received online at CENTRE-MAIN on Monday 6
    January 2020 (so it is late now, and first of the "late" worklist), with
    one PDF attachment."""
    from dossiers.attachments import attachments_check

    checked, problems = attachments_check([SimpleUploadedFile("giay-to.pdf", PDF)])
    assert not problems
    return submit(received_at=local(2020, 1, 6, 9), files=checked)


def _snapshot(dossier) -> dict:
    row = Dossier.objects.get(pk=dossier.pk)
    return {
        **model_to_dict(row),
        "updated_at": row.updated_at,
        "events": DossierEvent.objects.filter(dossier=row).count(),
        "apologies": Apology.objects.filter(dossier=row).count(),
        "dossiers": Dossier.objects.count(),
    }


def _callers(people) -> dict:
    return {
        "anonymous": None,
        "citizen_a": people.citizen_a,
        "citizen_b": people.citizen_b,
        "desk_commune": people.desk_commune,
        "post_clerk": people.post_clerk,
        "processor_other": people.processor_other,
        "desk_main": people.desk_main,
        "processor": people.processor,
        "leader": people.leader,
        "administrator": people.administrator,
    }


OUTSIDERS = ("citizen_b", "desk_commune", "post_clerk", "processor_other")
INSIDERS = ("desk_main", "processor", "leader", "administrator")


def test_list(dossier_a, people, client_as):
    callers = _callers(people)
    response = client_as(None).get("/api/v1/dossiers/")
    assert response.status_code == 401
    assert response.has_header("WWW-Authenticate")
    # Late first (due date order): the 2020 dossier heads the list even
    # when the demo history fills the worklists.
    query = {"due": "late", "limit": 500}
    for name in ("citizen_a", *INSIDERS):
        response = client_as(callers[name]).get("/api/v1/dossiers/", query)
        assert response.status_code == 200, name
        codes = [d["code"] for d in response.json()["results"]]
        assert dossier_a.code in codes, name
    for name in OUTSIDERS:
        response = client_as(callers[name]).get("/api/v1/dossiers/", query)
        assert response.status_code == 200, name
        assert dossier_a.code not in [d["code"] for d in response.json()["results"]], name
    # Citizens see their own dossiers only.
    own = client_as(people.citizen_a).get("/api/v1/dossiers/", {"limit": 500}).json()
    assert own["count"] == Dossier.objects.filter(applicant=people.citizen_a).count() == 1


def test_list_filters(submit, drive, people, client_as):
    late = submit(received_at=local(2020, 1, 6, 9))  # long past its due date: first by due date
    done = drive(submit(received_at=local(2099, 3, 2, 9)), "refused")  # newest: first by receipt
    client = client_as(people.desk_main)
    late_codes = [d["code"] for d in client.get("/api/v1/dossiers/", {"due": "late", "limit": 500}).json()["results"]]
    assert late.code in late_codes and done.code not in late_codes
    refused = client.get("/api/v1/dossiers/", {"status": "refused", "limit": 500}).json()["results"]
    assert [d["code"] for d in refused if d["code"] in (late.code, done.code)] == [done.code]
    for bad in ({"status": "flying"}, {"due": "tomorrow"}, {"limit": "0"}, {"offset": "-1"}):
        response = client.get("/api/v1/dossiers/", bad)
        assert response.status_code == 400
        assert list(response.json()) == list(bad)


def test_submit(api_payload, people, client_as, catalogue):
    before = Dossier.objects.count()
    response = client_as(None).post("/api/v1/dossiers/", api_payload(), format="json")
    assert response.status_code == 401
    assert Dossier.objects.count() == before
    assert client_as(people.citizen_a).post("/api/v1/dossiers/", api_payload(), format="json").status_code == 201
    assert (
        client_as(people.desk_main).post("/api/v1/dossiers/", api_payload(channel=1), format="json").status_code == 201
    )
    assert Dossier.objects.count() == before + 2
    # Processing officers, leaders and administrators do not receive dossiers.
    for user in (people.processor, people.leader, people.administrator):
        response = client_as(user).post("/api/v1/dossiers/", api_payload(channel=1), format="json")
        assert response.status_code == 403, user
    assert Dossier.objects.count() == before + 2


def test_detail(dossier_a, people, client_as):
    callers = _callers(people)
    url = f"/api/v1/dossiers/{dossier_a.code}/"
    assert client_as(None).get(url).status_code == 401
    for name in OUTSIDERS:
        response = client_as(callers[name]).get(url)
        assert response.status_code == 404, name
        assert dossier_a.applicant_name not in response.content.decode()
    for name in ("citizen_a", *INSIDERS):
        response = client_as(callers[name]).get(url)
        assert response.status_code == 200, name
        assert response.json()["code"] == dossier_a.code
    assert client_as(people.desk_main).get("/api/v1/dossiers/000.00.13.H04-200106-9999/").status_code == 404


def test_transitions(dossier_a, people, client_as):
    callers = _callers(people)
    url = f"/api/v1/dossiers/{dossier_a.code}/transitions/"
    before = _snapshot(dossier_a)
    assert client_as(None).post(url, {"action": "assign"}, format="json").status_code == 401
    for name in OUTSIDERS:
        for action in ("assign", "withdraw", "refuse"):
            response = client_as(callers[name]).post(url, {"action": action, "note": "x"}, format="json")
            assert response.status_code == 404, (name, action)
    # The administrator sees it but makes no transitions.
    assert client_as(people.administrator).post(url, {"action": "assign"}, format="json").status_code == 409
    assert _snapshot(dossier_a) == before
    # The right desk hands it over.
    response = client_as(people.desk_main).post(url, {"action": "assign"}, format="json")
    assert response.status_code == 200
    assert Dossier.objects.get(pk=dossier_a.pk).status == "assigned"
    # And the applicant may withdraw their own.
    response = client_as(people.citizen_a).post(url, {"action": "withdraw"}, format="json")
    assert response.status_code == 200
    assert Dossier.objects.get(pk=dossier_a.pk).status == "withdrawn"


def test_apologies(dossier_a, people, client_as):
    callers = _callers(people)
    url = f"/api/v1/dossiers/{dossier_a.code}/apologies/"
    body = {"reason": "Chờ ý kiến cơ quan phối hợp", "new_due_at": "2099-01-05"}
    before = _snapshot(dossier_a)
    assert client_as(None).post(url, body, format="json").status_code == 401
    for name in OUTSIDERS:
        assert client_as(callers[name]).post(url, body, format="json").status_code == 404, name
    # Seeing it is not enough: citizens and administrators do not apologise.
    for name in ("citizen_a", "administrator"):
        assert client_as(callers[name]).post(url, body, format="json").status_code == 409, name
    assert _snapshot(dossier_a) == before
    for bad, field in (
        ({"new_due_at": "2099-01-05"}, "reason"),
        ({**body, "reason": "  "}, "reason"),
        ({**body, "reason": 5}, "reason"),
        ({"reason": "x"}, "new_due_at"),
        ({**body, "new_due_at": "soon"}, "new_due_at"),
        ({**body, "new_due_at": "2099-02-30"}, "new_due_at"),
        ({**body, "new_due_at": "2020-01-01"}, "new_due_at"),  # not in the future
    ):
        response = client_as(people.desk_main).post(url, bad, format="json")
        assert response.status_code == 400, bad
        assert list(response.json()) == [field], bad
    assert _snapshot(dossier_a) == before
    response = client_as(people.processor).post(url, body, format="json")
    assert response.status_code == 201
    assert response.json()["new_due_at"].startswith("2099-01-05T17:00:00+07:00")
    apology = Apology.objects.get(dossier=dossier_a)
    assert (apology.created_by_id, apology.reason) == (people.processor.pk, body["reason"])
    stored = Dossier.objects.get(pk=dossier_a.pk)
    assert stored.appointment_at == apology.new_due_at
    assert DossierEvent.objects.filter(dossier=stored, action="apologize").count() == 1


def test_no_apology_for_a_dossier_not_late(submit, people, client_as):
    dossier = submit(received_at=local(2099, 3, 2, 9))  # due in the future
    response = client_as(people.desk_main).post(
        f"/api/v1/dossiers/{dossier.code}/apologies/", {"reason": "x", "new_due_at": "2099-12-31"}, format="json"
    )
    assert response.status_code == 409
    assert not Apology.objects.filter(dossier=dossier).exists()


def test_attachments(dossier_a, people, client_as):
    callers = _callers(people)
    attachment = Attachment.objects.get(dossier=dossier_a)
    url = f"/api/v1/dossiers/{dossier_a.code}/attachments/{attachment.pk}/"
    assert client_as(None).get(url).status_code == 401
    for name in OUTSIDERS:
        assert client_as(callers[name]).get(url).status_code == 404, name
    for name in ("citizen_a", *INSIDERS):
        response = client_as(callers[name]).get(url)
        assert response.status_code == 200, name
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "giay-to.pdf" in response["Content-Disposition"]
        assert response["Content-Disposition"].startswith("attachment")
    # An attachment of another dossier is not reachable through this one.
    assert (
        client_as(people.citizen_a).get(f"/api/v1/dossiers/{dossier_a.code}/attachments/999999999/").status_code == 404
    )


def test_attachment_of_another_dossier_is_404(dossier_a, submit, people, client_as):
    other = submit(received_at=local(2020, 1, 7, 9))
    attachment = Attachment.objects.get(dossier=dossier_a)
    url = f"/api/v1/dossiers/{other.code}/attachments/{attachment.pk}/"
    assert client_as(people.citizen_a).get(url).status_code == 404


# --- citizen ID numbers -------------------------------------------------------


def _urls(value, found: list[str]) -> list[str]:
    """Every string of a JSON answer that looks like a URL or a path."""
    if isinstance(value, dict):
        for item in value.values():
            _urls(item, found)
    elif isinstance(value, list):
        for item in value:
            _urls(item, found)
    elif isinstance(value, str) and (value.startswith("/") or value.startswith("http")):
        found.append(value)
    return found


def test_citizen_id_full_to_applicant_masked_to_officials(dossier_a, people, client_as):
    url = f"/api/v1/dossiers/{dossier_a.code}/"
    own = client_as(people.citizen_a).get(url).json()
    assert own["applicant"]["id_number"] == CITIZEN_A_ID
    for user in (people.desk_main, people.processor, people.leader, people.administrator):
        body = client_as(user).get(url).json()
        assert body["applicant"]["id_number"] == "********" + CITIZEN_A_ID[-4:]
        assert CITIZEN_A_ID not in json.dumps(body)
    listed = client_as(people.desk_main).get("/api/v1/dossiers/", {"limit": 500}).content.decode()
    assert CITIZEN_A_ID not in listed


def test_citizen_id_masked_to_the_desk_that_entered_it(people, client_as, api_payload):
    # Walk-in applicant without an account: the desk officer typed the ID,
    # and sees it masked from then on.
    response = client_as(people.desk_main).post(
        "/api/v1/dossiers/", api_payload(channel=1, applicant_id_number=WALK_IN_ID), format="json"
    )
    assert response.status_code == 201
    assert WALK_IN_ID not in response.content.decode()
    assert response.json()["applicant"]["id_number"] == "********8877"


def test_citizen_id_never_in_urls_nor_logs(people, client_as, api_payload, caplog, files_root):
    caplog.set_level(logging.DEBUG)
    client = client_as(people.citizen_a)
    pdf = SimpleUploadedFile("cccd.pdf", PDF, content_type="application/pdf")
    response = client.post(
        "/api/v1/dossiers/", {**api_payload(), "attachments": [pdf]}, format="multipart", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    code = body["code"]
    urls = [response["Location"], *_urls(body, [])]
    urls += _urls(client.get(f"/api/v1/dossiers/{code}/").json(), [])
    urls += _urls(client.get("/api/v1/dossiers/").json(), [])
    assert any(code in u for u in urls)  # the walk found the dossier's own links
    assert all(CITIZEN_A_ID not in u for u in urls), urls
    # Desk view, a transition and a refused submission (bad ID) too.
    desk = client_as(people.desk_main)
    desk.get(f"/api/v1/dossiers/{code}/")
    desk.post(f"/api/v1/dossiers/{code}/transitions/", {"action": "assign"}, format="json")
    bad = client.post("/api/v1/dossiers/", api_payload(applicant_id_number=CITIZEN_A_ID[:-1] + "X"), format="json")
    assert bad.status_code == 400
    assert caplog.records, "the audit log wrote nothing: the capture is not working"
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert code in logged  # the audit line names the dossier, not the person
    assert CITIZEN_A_ID not in logged
    assert CITIZEN_A_ID[:-1] not in logged
    assert not re.search(r"\d{12}", logged)
