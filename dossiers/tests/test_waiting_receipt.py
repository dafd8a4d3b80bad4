"""Online dossiers wait for the desk (issue #15): an online submission is
"submitted, waiting for receipt" until a desk officer of the service point
it was sent to receives it (receipt time and deadline start then), asks for
it to be completed (the applicant hands in files, it waits again) or refuses
it. Counter submissions are received at once, as before.

Deadlines are checked against working days counted here by hand (weekdays
minus a written-out list of Vietnamese public holidays), never by the code
under test."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.utils import timezone

from dossiers.models import DailyStat, DensityCount, Dossier, DossierEvent
from dossiers.services import dossier_transition
from gisportal.accounts.models import Role

from .conftest import local

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# Vietnamese public days off from April 2026 to mid-2027, from a wall
# calendar: Hùng Kings (observed Monday 27/4/2026), 30/4-1/5, National Day
# with the moved day off (31/8-2/9/2026), New Year, Tết Đinh Mùi (5-10
# February 2027 off, check), Hùng Kings (16/4/2027), 30/4-1/5.
HOLIDAYS = {
    dt.date(2026, 4, 27),
    dt.date(2026, 4, 30),
    dt.date(2026, 5, 1),
    dt.date(2026, 8, 31),
    dt.date(2026, 9, 1),
    dt.date(2026, 9, 2),
    dt.date(2027, 1, 1),
    *(dt.date(2027, 2, d) for d in range(5, 11)),
    dt.date(2027, 4, 16),
    dt.date(2027, 4, 30),
    dt.date(2027, 5, 1),
}


def _working(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def due_by_hand(received: dt.datetime, days: int) -> dt.datetime:
    """17:00 of the `days`-th working day after the counting day (the day of
    receipt if a working day before 17:00, else the next working day)."""
    moment = timezone.localtime(received)
    day = moment.date()
    if not _working(day) or moment.hour >= 17:
        day += dt.timedelta(days=1)
        while not _working(day):
            day += dt.timedelta(days=1)
    left = days
    while left:
        day += dt.timedelta(days=1)
        if _working(day):
            left -= 1
    return timezone.make_aware(dt.datetime.combine(day, dt.time(17)))


def _snapshot(dossier) -> dict:
    row = Dossier.objects.get(pk=dossier.pk)
    return {**model_to_dict(row), "updated_at": row.updated_at, "events": row.events.count()}


def _move(client, dossier, action, **body):
    return client.post(f"/api/v1/dossiers/{dossier.code}/transitions/", {"action": action, **body}, format="json")


@pytest.fixture
def files_root(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private"
    return settings.DOSSIER_FILES_ROOT


def _submit_online(client, api_payload, **overrides) -> Dossier:
    response = client.post("/api/v1/dossiers/", api_payload(**overrides), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "waiting_receipt"
    assert body["status_label"] == "Chờ tiếp nhận / Waiting for receipt"
    assert body["received_at"] is None and body["due_at"] is None and body["submitted_at"]
    return Dossier.objects.get(code=body["code"])


def test_online_submission_waits_then_the_desk_receives_it(api_payload, people, client_as, catalogue):
    citizen = client_as(people.citizen_a)
    dossier = _submit_online(citizen, api_payload)
    # Waiting: no receipt time, no deadline, nothing counted, only the submission event.
    assert (dossier.received_at, dossier.due_at) == (None, None)
    events = list(dossier.events.all())
    assert [(e.action, e.from_status, e.to_status, e.actor_id) for e in events] == [
        ("submit", "", "waiting_receipt", people.citizen_a.pk)
    ]
    assert not DailyStat.objects.exists()
    assert not DensityCount.objects.exists()
    # The receipt slip does not exist yet: a 409 saying why, in both languages.
    slip = citizen.get(f"/api/v1/dossiers/{dossier.code}/slips/receipt.pdf")
    assert slip.status_code == 409
    assert "chờ bộ phận một cửa tiếp nhận" in slip.json()["detail"]
    assert "waiting for the desk to receive it" in slip.json()["detail"]
    # The public lookup says so too.
    looked = client_as(None).get("/api/v1/dossiers/lookup/", {"code": dossier.code}).json()
    assert (looked["status"], looked["on_time_state"], looked["due_at"]) == ("waiting_receipt", "not_received", None)
    # The citizen may only withdraw while it waits.
    detail = citizen.get(f"/api/v1/dossiers/{dossier.code}/").json()
    assert {a["action"] for a in detail["allowed_actions"]} == {"withdraw"}
    desk = client_as(people.desk_main)
    offered = {a["action"] for a in desk.get(f"/api/v1/dossiers/{dossier.code}/").json()["allowed_actions"]}
    assert offered == {"receive", "request_completion", "refuse", "withdraw"}

    before = timezone.now()
    response = _move(desk, dossier, "receive")

    assert response.status_code == 200, response.json()
    stored = Dossier.objects.get(pk=dossier.pk)
    assert stored.status == "received"
    assert before <= stored.received_at <= timezone.now()
    assert stored.submitted_at < stored.received_at
    # The deadline counts from the receipt, working days counted by hand.
    assert stored.due_at == due_by_hand(stored.received_at, catalogue.main.processing_days)
    event = stored.events.order_by("id").last()
    assert (event.action, event.from_status, event.to_status) == ("receive", "waiting_receipt", "received")
    assert (event.actor_id, event.actor_role, event.actor_point_id) == (
        people.desk_main.pk,
        Role.DESK_OFFICER,
        people.desk_main.profile.service_point_id,
    )
    # Counted on the day of receipt, once, as online.
    day = timezone.localtime(stored.received_at).date()
    total = DailyStat.objects.get(dimension="all", key=0)
    assert (total.day, total.received, total.online) == (day, 1, 1)
    assert citizen.get(f"/api/v1/dossiers/{dossier.code}/slips/receipt.pdf").status_code == 200
    looked = client_as(None).get("/api/v1/dossiers/lookup/", {"code": dossier.code}).json()
    assert looked["on_time_state"] == "in_time" and looked["due_at"]


def test_receipt_starts_the_clock_at_receipt_not_submission(submit, people, catalogue):
    # Submitted Friday 24/4/2026 at 16:00; received Wednesday 29/4 at 10:00.
    # From submission it would be due Monday 4/5 (27/4 is the observed
    # Hùng Kings' day); from receipt, 30/4 and 1/5 are off: 4/5, 5/5, 6/5.
    dossier = submit(received_at=local(2026, 4, 24, 16), receive=False)
    assert dossier.status == "waiting_receipt"
    received = dossier_transition(
        code=dossier.code, action="receive", acting_user=people.desk_main, at=local(2026, 4, 29, 10)
    )
    assert received.received_at == local(2026, 4, 29, 10)
    assert received.due_at == local(2026, 5, 6, 17) == due_by_hand(local(2026, 4, 29, 10), 3)
    assert received.submitted_at == local(2026, 4, 24, 16)
    rows = {(r.dimension, r.day): r.received for r in DailyStat.objects.filter(dimension="all")}
    assert rows == {("all", dt.date(2026, 4, 29)): 1}
    # Finished on 5/5: early against the deadline from receipt (it would be
    # late against one counted from the submission: 4/5).
    for action, user in (
        ("assign", people.desk_main),
        ("start", people.processor),
        ("approve", people.leader),
        ("mark_result_ready", people.processor),
    ):
        dossier_transition(code=dossier.code, action=action, acting_user=user, at=local(2026, 5, 5, 9))
    finished = Dossier.objects.get(pk=dossier.pk)
    assert finished.timeliness == "early"
    assert finished.finished_at.date() > due_by_hand(local(2026, 4, 24, 16), 3).date()


def test_ask_to_complete_then_supplement_then_receive(api_payload, people, client_as, files_root, catalogue):
    citizen, desk = client_as(people.citizen_a), client_as(people.desk_main)
    dossier = _submit_online(citizen, api_payload)

    # The note is required: a 400 naming it, nothing changed.
    before = _snapshot(dossier)
    refused = _move(desk, dossier, "request_completion")
    assert refused.status_code == 400 and list(refused.json()) == ["note"]
    assert _snapshot(dossier) == before

    asked = _move(desk, dossier, "request_completion", note="Thiếu bản sao giấy khai sinh")
    assert asked.status_code == 200
    assert asked.json()["status"] == "waiting_completion"
    stored = Dossier.objects.get(pk=dossier.pk)
    # Before receipt: no deadline, and no supplement counted against the agency.
    assert (stored.received_at, stored.due_at, stored.supplement_count, stored.paused_at) == (None, None, 0, None)
    detail = citizen.get(f"/api/v1/dossiers/{dossier.code}/").json()
    assert detail["supplement"]["may_upload"] is True
    assert detail["supplement"]["since_request"]["request_note"] == "Thiếu bản sao giấy khai sinh"
    # The request is printed on form 2.
    assert citizen.get(f"/api/v1/dossiers/{dossier.code}/slips/supplement.pdf").status_code == 200

    handed = citizen.post(
        f"/api/v1/dossiers/{dossier.code}/supplement/",
        {"attachments": [SimpleUploadedFile("khai-sinh.pdf", PDF)], "note": "Đã bổ sung"},
        format="multipart",
    )

    assert handed.status_code == 200, handed.json()
    stored = Dossier.objects.get(pk=dossier.pk)
    assert stored.status == "waiting_receipt"
    event = stored.events.order_by("id").last()
    assert (event.action, event.from_status, event.to_status, event.actor_id) == (
        "complete",
        "waiting_completion",
        "waiting_receipt",
        people.citizen_a.pk,
    )
    assert "khai-sinh.pdf" in event.note
    assert stored.attachments.filter(original_name="khai-sinh.pdf").exists()
    assert not DailyStat.objects.exists()

    assert _move(desk, dossier, "receive").status_code == 200
    stored = Dossier.objects.get(pk=dossier.pk)
    assert stored.status == "received"
    assert stored.due_at == due_by_hand(stored.received_at, catalogue.main.processing_days)
    assert stored.supplement_count == 0
    assert [e.action for e in stored.events.order_by("id")] == ["submit", "request_completion", "complete", "receive"]


def test_refuse_before_receipt_needs_a_note(api_payload, people, client_as):
    citizen, desk = client_as(people.citizen_a), client_as(people.desk_main)
    dossier = _submit_online(citizen, api_payload)
    before = _snapshot(dossier)
    for body in ({}, {"note": "   "}):
        response = _move(desk, dossier, "refuse", **body)
        assert response.status_code == 400
        assert list(response.json()) == ["note"]
        assert " / " in response.json()["note"][0]
        assert _snapshot(dossier) == before

    response = _move(desk, dossier, "refuse", note="Hồ sơ không thuộc thẩm quyền")

    assert response.status_code == 200
    stored = Dossier.objects.get(pk=dossier.pk)
    # Refused without being received: no receipt, no deadline, not finished nor counted.
    assert (stored.status, stored.received_at, stored.due_at, stored.finished_at, stored.timeliness) == (
        "refused",
        None,
        None,
        None,
        "",
    )
    event = stored.events.order_by("id").last()
    assert (event.action, event.actor_id, event.note) == ("refuse", people.desk_main.pk, "Hồ sơ không thuộc thẩm quyền")
    assert not DailyStat.objects.exists()
    assert client_as(people.citizen_a).get(f"/api/v1/dossiers/{dossier.code}/slips/refusal.pdf").status_code == 200
    assert client_as(people.citizen_a).get(f"/api/v1/dossiers/{dossier.code}/slips/receipt.pdf").status_code == 409


def test_the_agency_does_not_refuse_before_receipt(submit, people, client_as):
    dossier = submit(receive=False)
    before = _snapshot(dossier)
    for user in (people.processor, people.leader):
        response = _move(client_as(user), dossier, "refuse", note="không")
        assert response.status_code == 409
        assert response.json()["allowed_actions"] == []
    assert _snapshot(dossier) == before


def test_a_desk_officer_of_another_point_cannot_act(submit, people, client_as, points):
    # Sent to CENTRE-MAIN: the commune desk and the post office do not see it.
    dossier = submit(receive=False)
    before = _snapshot(dossier)
    for user in (people.desk_commune, people.post_clerk):
        client = client_as(user)
        for action, note in (("receive", ""), ("request_completion", "x"), ("refuse", "x")):
            assert _move(client, dossier, action, note=note).status_code == 404
        assert client.get("/api/v1/dossiers/", {"status": "waiting_receipt"}).json()["count"] == 0
    # Sent to the commune desk: the centre's desk does not see it.
    other = submit(receive=False, receiving_point_code=points.desk.code)
    assert _move(client_as(people.desk_main), other, "receive").status_code == 404
    assert _snapshot(dossier) == before
    assert Dossier.objects.get(pk=other.pk).status == "waiting_receipt"
    assert not DailyStat.objects.exists()


def test_the_citizen_withdraws_while_waiting(submit, people, client_as):
    dossier = submit(receive=False)
    response = _move(client_as(people.citizen_a), dossier, "withdraw")
    assert response.status_code == 200
    stored = Dossier.objects.get(pk=dossier.pk)
    assert (stored.status, stored.received_at, stored.finished_at) == ("withdrawn", None, None)
    assert stored.events.order_by("id").last().actor_id == people.citizen_a.pk
    assert not DailyStat.objects.exists()


def test_counter_submission_is_received_at_once(api_payload, people, client_as, points):
    response = client_as(people.desk_main).post("/api/v1/dossiers/", api_payload(channel=1), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "received"
    stored = Dossier.objects.get(code=body["code"])
    assert stored.received_at == stored.submitted_at
    assert stored.due_at is not None
    assert [e.action for e in stored.events.all()] == ["receive"]
    assert DailyStat.objects.get(dimension="all", key=0).received == 1
    # So is a dossier the post-office clerk enters (channel 3).
    post = client_as(people.post_clerk).post("/api/v1/dossiers/", api_payload(channel=3), format="json")
    assert post.status_code == 201 and post.json()["status"] == "received"


def test_the_desk_worklist_shows_waiting_dossiers_first(submit, people, client_as):
    received = submit(received_at=timezone.now() - dt.timedelta(hours=1))
    first = submit(receive=False, received_at=timezone.now() - dt.timedelta(hours=3))
    second = submit(receive=False, received_at=timezone.now() - dt.timedelta(hours=2))
    desk = client_as(people.desk_main)
    codes = [row["code"] for row in desk.get("/api/v1/dossiers/").json()["results"]]
    assert codes[:3] == [first.code, second.code, received.code]
    waiting = desk.get("/api/v1/dossiers/", {"status": "waiting_receipt"}).json()
    assert [row["code"] for row in waiting["results"]] == [first.code, second.code]
    page = client_as(None)
    page.force_login(people.desk_main)
    html = page.get("/worklist/").content.decode()
    assert 'id="tab-waiting"' in html
    assert html.index(first.code) < html.index(second.code) < html.index(received.code)
    filtered = page.get("/worklist/", {"status": "waiting_receipt"}).content.decode()
    assert first.code in filtered and received.code not in filtered


def test_the_dossier_page_offers_the_three_moves_and_confirms_refuse(submit, people, client):
    dossier = submit(receive=False)
    client.force_login(people.desk_main)
    html = client.get(f"/dossiers/{dossier.code}/").content.decode()
    for action in ("receive", "request_completion", "refuse"):
        assert f'id="action-{action}"' in html
    assert 'id="confirm-refuse"' in html
    assert 'id="receipt-link"' not in html and 'data-slip="receipt"' not in html
    # Refusing without the confirmation is a 400 and changes nothing.
    before = _snapshot(dossier)
    response = client.post(f"/dossiers/{dossier.code}/action/", {"action": "refuse", "note": "không đủ"})
    assert response.status_code == 400
    assert _snapshot(dossier) == before
    response = client.post(f"/dossiers/{dossier.code}/action/", {"action": "receive"})
    assert response.status_code == 302
    assert Dossier.objects.get(pk=dossier.pk).status == "received"
    html = client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert 'data-slip="receipt"' in html


def test_the_citizen_page_and_lookup_page_say_waiting_in_both_languages(submit, people, client):
    dossier = submit(receive=False)
    client.force_login(people.citizen_a)
    vi = client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert "Chờ tiếp nhận" in vi and "Waiting for receipt" not in vi
    en = client.get(f"/dossiers/{dossier.code}/", {"lang": "en"}).content.decode()
    assert "Waiting for receipt" in en
    lookup_vi = client.get("/dossiers/lookup/", {"code": dossier.code}).content.decode()
    assert "Chờ tiếp nhận" in lookup_vi
    lookup = client.get("/dossiers/lookup/", {"code": dossier.code, "lang": "en"}).content.decode()
    assert "Waiting for receipt" in lookup
    assert "Not yet received: the deadline starts at receipt" in lookup


def test_events_of_receipt_reach_the_subscribers_at_receipt(submit, people):
    """The "received" message and the fee request hang on the `receive`
    event: an online dossier emits it when the desk receives it."""
    from dossiers.events import dossier_changes_subscribe, dossier_changes_unsubscribe

    seen = []

    def listen(change):
        seen.append((change.action, change.to_status))

    dossier_changes_subscribe(listen)
    try:
        dossier = submit(receive=False)
        assert seen == [("submit", "waiting_receipt")]
        dossier_transition(code=dossier.code, action="receive", acting_user=people.desk_main)
        assert seen[-1] == ("receive", "received")
    finally:
        dossier_changes_unsubscribe(listen)
    assert DossierEvent.objects.filter(dossier=dossier, action="receive").count() == 1


def test_the_demo_leaves_a_few_online_dossiers_waiting_and_is_safe_to_rerun(settings, catalogue, points):
    from dossiers.demo_setup import DEMO_WAITING, demo_waiting_dossiers_ensure
    from gisportal.accounts.services import user_ensure
    from layers.models import ServicePoint

    settings.DEBUG = True
    citizen = user_ensure(username="congdan", password="x-Strong-pass-1", role=Role.CITIZEN)
    expected = sum(1 for code, _ in DEMO_WAITING if ServicePoint.objects.filter(code=code).exists())
    assert expected >= 2  # CENTRE-MAIN twice at least

    assert demo_waiting_dossiers_ensure() == expected
    assert demo_waiting_dossiers_ensure() == expected  # again: nothing added
    waiting = Dossier.objects.filter(applicant=citizen)
    assert waiting.count() == expected
    assert set(waiting.values_list("status", "channel", "received_at", "due_at")) == {
        ("waiting_receipt", 2, None, None)
    }
    assert not DailyStat.objects.exists()
