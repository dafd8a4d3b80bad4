"""Assigning a dossier to a named officer (issue #15): who may assign (a
leader or the desk that may act on it), to whom (a processing officer or
leader of the agency handling it, else 422 naming `officer`), the event row,
the officer's own queue by due time (API and worklist page), the assign form
on the dossier page. A refused call changes nothing."""

import pytest
from django.forms.models import model_to_dict

from dossiers.models import Dossier, DossierEvent

from .conftest import local

pytestmark = pytest.mark.django_db


def _snapshot(dossier) -> dict:
    row = Dossier.objects.get(pk=dossier.pk)
    return {
        **model_to_dict(row),
        "updated_at": row.updated_at,
        "events": DossierEvent.objects.filter(dossier=row).count(),
    }


def _assign(client, dossier, officer, **extra):
    return client.post(f"/api/v1/dossiers/{dossier.code}/assign/", {"officer": officer, **extra}, format="json")


def test_the_access_matrix_of_assigning(submit, people, client_as):
    dossier = submit(received_at=local(2026, 3, 2, 9))
    before = _snapshot(dossier)
    officer = people.processor.username
    assert _assign(client_as(None), dossier, officer).status_code == 401
    # Those who do not see the dossier: 404, as for any other door.
    for outsider in (people.citizen_b, people.desk_commune, people.post_clerk, people.processor_other):
        assert _assign(client_as(outsider), dossier, officer).status_code == 404, outsider
    # Those who see it but may not assign: the applicant, the processing
    # officer, the administrator (who reads only).
    for reader in (people.citizen_a, people.processor, people.administrator):
        response = _assign(client_as(reader), dossier, officer)
        assert response.status_code == 409, reader
        assert "assign_officer" in response.json()["detail"]
    assert _snapshot(dossier) == before
    # The right officials: the desk that received it, the leader of the agency handling it.
    response = _assign(client_as(people.desk_main), dossier, officer, note="Xử lý trước ngày 5")
    assert response.status_code == 200, response.content
    assert response.json()["assignment"]["assigned_to"] == {"username": officer, "name": "h4_processor_tp"}
    response = _assign(client_as(people.leader), dossier, people.leader.username)
    assert response.status_code == 200
    assert response.json()["assignment"]["assigned_to"]["username"] == people.leader.username


def test_an_officer_of_another_agency_or_role_is_refused_naming_officer(submit, people, client_as):
    dossier = submit(received_at=local(2026, 3, 2, 9))
    before = _snapshot(dossier)
    client = client_as(people.leader)
    # Another agency's officer, a desk officer, a citizen, nobody at all: 422.
    for name in (
        people.processor_other.username,
        people.leader_other.username,
        people.desk_main.username,
        people.citizen_a.username,
        "no-such-user",
    ):
        response = _assign(client, dossier, name)
        assert response.status_code == 422, name
        assert list(response.json()) == ["officer"], name
    # Missing or malformed input: 400 naming the field.
    for body in ({}, {"officer": ""}, {"officer": 7}, {"officer": people.processor.username, "note": ["x"]}):
        response = client.post(f"/api/v1/dossiers/{dossier.code}/assign/", body, format="json")
        assert response.status_code == 400, body
        assert list(response.json()) == ["note" if "note" in body else "officer"], body
    response = client.post(f"/api/v1/dossiers/{dossier.code}/assign/", [1], format="json")
    assert (response.status_code, list(response.json())) == (400, ["body"])
    assert _snapshot(dossier) == before
    # The same officer twice: refused, one event only.
    assert _assign(client, dossier, people.processor.username).status_code == 200
    response = _assign(client, dossier, people.processor.username)
    assert (response.status_code, list(response.json())) == (422, ["officer"])
    assert DossierEvent.objects.filter(dossier=dossier, action="assign_officer").count() == 1


def test_assigning_writes_one_event_and_keeps_the_status(submit, drive, people, client_as):
    dossier = drive(submit(received_at=local(2026, 3, 2, 9)), "processing")
    response = _assign(client_as(people.leader), dossier, people.processor.username, note="Ưu tiên")
    assert response.status_code == 200
    event = DossierEvent.objects.filter(dossier=dossier).latest("at", "id")
    assert (event.action, event.from_status, event.to_status) == ("assign_officer", "processing", "processing")
    assert (event.actor, event.actor_role) == (people.leader, "leader")
    assert people.processor.username in event.note and "Ưu tiên" in event.note
    dossier.refresh_from_db()
    assert (dossier.status, dossier.assigned_to, dossier.assigned_at) == ("processing", people.processor, event.at)
    # The timeline names the step.
    step = [e for e in response.json()["events"] if e["action"] == "assign_officer"]
    assert len(step) == 1


def test_closed_dossiers_are_not_assigned_and_a_transfer_clears_the_officer(submit, drive, people, client_as):
    refused = drive(submit(received_at=local(2026, 3, 2, 9)), "refused")
    assert _assign(client_as(people.leader), refused, people.processor.username).status_code == 409
    moving = drive(submit(received_at=local(2026, 3, 2, 9)), "processing")
    assert _assign(client_as(people.leader), moving, people.processor.username).status_code == 200
    from dossiers.services import dossier_transition

    dossier_transition(
        code=moving.code, action="transfer", acting_user=people.processor, note="sai thẩm quyền", agency_code="so-y-te"
    )
    moving.refresh_from_db()
    assert (moving.assigned_to, moving.assigned_at) == (None, None)
    # The so-tp leader now only reads it; so-y-te's leader assigns their own officer.
    assert _assign(client_as(people.leader), moving, people.processor.username).status_code == 409
    assert _assign(client_as(people.leader_other), moving, people.processor.username).status_code == 422
    assert _assign(client_as(people.leader_other), moving, people.processor_other.username).status_code == 200


def test_my_queue_is_ordered_by_due_time_and_scoped_to_me(submit, drive, people, client_as):
    later = submit(received_at=local(2026, 3, 9, 9))
    sooner = submit(received_at=local(2026, 3, 2, 9))
    other = submit(received_at=local(2026, 3, 3, 9))
    done = drive(submit(received_at=local(2026, 2, 2, 9)), "processing")
    leader = client_as(people.leader)
    for dossier in (later, sooner, done):
        assert _assign(leader, dossier, people.processor.username).status_code == 200
    assert _assign(leader, other, people.leader.username).status_code == 200
    drive(done, "approved", path=[("approve", "leader")])  # still open: stays in the queue
    assert client_as(None).get("/api/v1/worklist/mine/").status_code == 401
    mine = client_as(people.processor).get("/api/v1/worklist/mine/")
    assert mine.status_code == 200
    codes = [row["code"] for row in mine.json()["results"]]
    assert codes == [done.code, sooner.code, later.code]
    due = [row["due_at"] for row in mine.json()["results"]]
    assert due == sorted(due)
    assert [row["code"] for row in leader.get("/api/v1/worklist/mine/").json()["results"]] == [other.code]
    # Nobody else's queue holds them: another agency, a citizen, the desk.
    for caller in (people.processor_other, people.citizen_a, people.desk_main):
        assert client_as(caller).get("/api/v1/worklist/mine/").json()["results"] == [], caller
    # A finished dossier leaves the queue.
    from dossiers.services import dossier_transition

    dossier_transition(code=sooner.code, action="refuse", acting_user=people.desk_main, note="thiếu giấy tờ")
    codes = [row["code"] for row in client_as(people.processor).get("/api/v1/worklist/mine/").json()["results"]]
    assert codes == [done.code, later.code]
    response = client_as(people.processor).get("/api/v1/worklist/mine/", {"limit": 0})
    assert (response.status_code, list(response.json())) == (400, ["limit"])


def test_the_pages_assign_and_show_my_queue(submit, people, client):
    dossier = submit(received_at=local(2026, 3, 2, 9))
    client.force_login(people.desk_main)
    page = client.get(f"/dossiers/{dossier.code}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="assign-form"' in html and people.processor.username in html
    assert people.processor_other.username not in html  # only officers of the agency handling it
    response = client.post(f"/dossiers/{dossier.code}/assign/", {"officer": people.processor_other.username})
    assert response.status_code == 422
    assert Dossier.objects.get(pk=dossier.pk).assigned_to is None
    response = client.post(f"/dossiers/{dossier.code}/assign/", {"officer": people.processor.username})
    assert response.status_code == 302
    assert Dossier.objects.get(pk=dossier.pk).assigned_to == people.processor
    # The processing officer sees no assign form, and finds the dossier under "Assigned to me".
    client.force_login(people.processor)
    assert 'id="assign-form"' not in client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert client.post(f"/dossiers/{dossier.code}/assign/", {"officer": people.leader.username}).status_code == 409
    mine = client.get("/worklist/", {"assigned": "me"})
    assert mine.status_code == 200
    assert dossier.code in mine.content.decode()
    client.force_login(people.citizen_b)
    assert client.post(f"/dossiers/{dossier.code}/assign/", {"officer": people.processor.username}).status_code == 404


def test_my_queue_costs_the_same_queries_for_one_dossier_or_many(submit, people, client_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    leader, officer = client_as(people.leader), client_as(people.processor)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert officer.get("/api/v1/worklist/mine/").status_code == 200
        return len(captured)

    assert _assign(leader, submit(received_at=local(2026, 3, 2, 9)), people.processor.username).status_code == 200
    queries()  # the first call also fills per-process caches
    one = queries()
    for day in (3, 4, 5):
        assert _assign(leader, submit(received_at=local(2026, 3, day, 9)), people.processor.username).status_code == 200
    assert officer.get("/api/v1/worklist/mine/").json()["count"] == 4
    assert queries() == one


def test_the_control_slip_names_the_assignment(submit, people, client_as, tmp_path):
    from .test_slips import pdf_text

    dossier = submit(received_at=local(2026, 3, 2, 9))
    assert _assign(client_as(people.leader), dossier, people.processor.username).status_code == 200
    response = client_as(people.leader).get(f"/api/v1/dossiers/{dossier.code}/slips/control.pdf")
    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    assert "Giao cán bộ xử lý" in text and "assign_officer" not in text
    assert "h4_processor_tp" in text  # the note names the officer
