"""The whole transition table (dossiers.workflow.TRANSITIONS), through the
API: every allowed move by every allowed role from every source state
succeeds and records one event; every other (state, action, role) is a 409
that changes nothing.

A dossier is put in a state by walking the legal path of conftest.PATHS
(service calls), never by writing the status column."""

import pytest
from django.forms.models import model_to_dict

from dossiers.models import Dossier, DossierEvent, Status
from dossiers.workflow import TRANSITIONS
from gisportal.accounts.models import Role

from .conftest import PATHS, TRANSFER_AGENCY

pytestmark = pytest.mark.django_db

ROLES = [Role.CITIZEN, Role.DESK_OFFICER, Role.PROCESSING_OFFICER, Role.LEADER, Role.ADMINISTRATOR]
ACTIONS = [t.action for t in TRANSITIONS]

ALLOWED = sorted(
    (t.action, source, role) for t in TRANSITIONS for source in t.sources for role in t.roles_at(source)
)  # fmt: skip
FORBIDDEN_BY_STATE_ROLE = {
    (state, role): [
        t.action for t in TRANSITIONS if not t.permits(state, role)
    ]
    for state in Status.values
    for role in ROLES
}  # fmt: skip


def test_the_paths_reach_every_state_and_the_table_is_complete():
    assert set(PATHS) == set(Status.values)
    # Every state but the terminal ones has a way out; every state has a way
    # in (submission makes a dossier waiting for receipt, or received at a desk).
    targets = {t.target for t in TRANSITIONS}
    assert targets == set(Status.values)
    # 43 before issue #15, + receive, request_completion, complete, refuse before receipt (desk only)
    # and withdraw from the two states before receipt (citizen, desk): a change to the table must be seen here.
    assert len(ALLOWED) == 51


def _body(action: str) -> dict:
    # A note and an agency on every call, so a refusal is never the 400 of a
    # missing note: the 409 of the table is what is tested.
    return {"action": action, "note": f"ghi chú {action}", "agency": TRANSFER_AGENCY}


def _snapshot(dossier) -> dict:
    row = Dossier.objects.get(pk=dossier.pk)
    return {
        **model_to_dict(row),
        "updated_at": row.updated_at,
        "events": DossierEvent.objects.filter(dossier=row).count(),
    }


@pytest.mark.parametrize(("action", "source", "role"), ALLOWED, ids=["-".join(a) for a in ALLOWED])
def test_allowed_move(action, source, role, in_state, people, client_as):
    dossier = in_state(source)
    user = people.by_role(dossier)[role]
    events_before = DossierEvent.objects.filter(dossier=dossier).count()
    transition = next(t for t in TRANSITIONS if t.action == action)

    response = client_as(user).post(f"/api/v1/dossiers/{dossier.code}/transitions/", _body(action), format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == transition.target
    stored = Dossier.objects.get(pk=dossier.pk)
    assert stored.status == transition.target
    events = list(DossierEvent.objects.filter(dossier=dossier).order_by("id"))
    assert len(events) == events_before + 1
    event = events[-1]
    profile = user.profile
    assert (event.action, event.from_status, event.to_status) == (action, source, transition.target)
    assert (event.actor_id, event.actor_role, event.note) == (user.pk, role, f"ghi chú {action}")
    assert (event.actor_agency_id, event.actor_point_id) == (profile.agency_id, profile.service_point_id)
    assert event.actor_name == profile.full_name
    if action == "transfer":
        assert stored.agency.code == TRANSFER_AGENCY
        assert event.to_agency.code == TRANSFER_AGENCY
    # The answer offers exactly the moves the table allows next; after a
    # transfer, the agency that let the dossier go reads it but acts no more.
    offered = {a["action"] for a in response.json()["allowed_actions"]}
    if action == "transfer":
        assert offered == set()
    else:
        assert offered == {t.action for t in TRANSITIONS if t.permits(transition.target, role)}


@pytest.mark.parametrize(
    ("state", "role"), sorted(FORBIDDEN_BY_STATE_ROLE), ids=[f"{s}-{r}" for s, r in sorted(FORBIDDEN_BY_STATE_ROLE)]
)
def test_forbidden_moves_are_409_and_change_nothing(state, role, in_state, people, client_as):
    dossier = in_state(state)
    client = client_as(people.by_role(dossier)[role])
    before = _snapshot(dossier)
    for action in FORBIDDEN_BY_STATE_ROLE[(state, role)]:
        response = client.post(f"/api/v1/dossiers/{dossier.code}/transitions/", _body(action), format="json")
        assert response.status_code == 409, (action, response.status_code, response.content)
        body = response.json()
        assert body["status"] == state
        assert action not in body["allowed_actions"]
        assert " / " in body["detail"]  # Vietnamese / English
        assert _snapshot(dossier) == before, action


def test_citizen_b_cannot_act_on_a_dossier_of_citizen_a(submit, drive, people, client_as):
    dossier = drive(submit(), "waiting_supplement")
    before = _snapshot(dossier)
    for action in ("supplement", "withdraw"):
        response = client_as(people.citizen_b).post(
            f"/api/v1/dossiers/{dossier.code}/transitions/", {"action": action}, format="json"
        )
        assert response.status_code == 404
    assert _snapshot(dossier) == before


def test_citizen_may_act_on_a_desk_submission_with_their_id(submit, people, client_as, points):
    # A desk officer received it in person with citizen A's ID number: it is
    # A's dossier.
    dossier = submit(user=people.desk_main, receiving_point_code=points.desk.code)
    assert dossier.applicant_id == people.citizen_a.pk
    response = client_as(people.citizen_a).post(
        f"/api/v1/dossiers/{dossier.code}/transitions/", {"action": "withdraw"}, format="json"
    )
    assert response.status_code == 200
    assert client_as(people.citizen_b).get(f"/api/v1/dossiers/{dossier.code}/").status_code == 404


@pytest.mark.parametrize("action", [t.action for t in TRANSITIONS if t.note_required])
@pytest.mark.parametrize("note", [None, "", "   "])
def test_note_required(action, note, in_state, people, client_as):
    transition = next(t for t in TRANSITIONS if t.action == action)
    source = sorted(transition.sources)[0]
    dossier = in_state(source)
    role = sorted(transition.roles_at(source))[0]
    before = _snapshot(dossier)
    body = {"action": action, "agency": TRANSFER_AGENCY}
    if note is not None:
        body["note"] = note
    response = client_as(people.by_role()[role]).post(
        f"/api/v1/dossiers/{dossier.code}/transitions/", body, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["note"]
    assert _snapshot(dossier) == before


@pytest.mark.parametrize("agency", [None, "", "khong-co-co-quan", 17, "so-tp"])
def test_transfer_needs_another_valid_agency(agency, submit, drive, people, client_as):
    dossier = drive(submit(), "processing")  # handled by so-tp
    before = _snapshot(dossier)
    body = {"action": "transfer", "note": "chuyển cấp"}
    if agency is not None:
        body["agency"] = agency
    response = client_as(people.processor).post(f"/api/v1/dossiers/{dossier.code}/transitions/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["agency"]
    assert _snapshot(dossier) == before


@pytest.mark.parametrize("action", [None, "", "fly", "APPROVE", 3, ["approve"]])
def test_unknown_action_is_400_naming_action(action, submit, people, client_as):
    dossier = submit()
    before = _snapshot(dossier)
    body = {"note": "x"} if action is None else {"action": action, "note": "x"}
    response = client_as(people.desk_main).post(f"/api/v1/dossiers/{dossier.code}/transitions/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["action"]
    assert _snapshot(dossier) == before


@pytest.mark.parametrize("body", [["assign"], "assign", 5])
def test_non_object_body_is_400(body, submit, people, client_as):
    dossier = submit()
    response = client_as(people.desk_main).post(f"/api/v1/dossiers/{dossier.code}/transitions/", body, format="json")
    assert response.status_code == 400
    assert Dossier.objects.get(pk=dossier.pk).status == "received"


def test_transition_on_unknown_dossier_is_404(people, client_as, catalogue):
    response = client_as(people.desk_main).post(
        "/api/v1/dossiers/000.00.13.H04-270301-9999/transitions/", {"action": "assign"}, format="json"
    )
    assert response.status_code == 404


def test_processing_officer_of_the_new_agency_takes_over_after_transfer(submit, drive, people, client_as):
    dossier = drive(submit(), "transferred")
    # so-y-te now handles it and sees it; it starts processing there.
    response = client_as(people.processor_other).post(
        f"/api/v1/dossiers/{dossier.code}/transitions/", {"action": "start"}, format="json"
    )
    assert response.status_code == 200
    event = DossierEvent.objects.filter(dossier=dossier).order_by("-id").first()
    assert (event.actor_id, event.actor_agency.code) == (people.processor_other.pk, "so-y-te")


# --- indicators kept in step ------------------------------------------------------


def _direct(day, dimension: str, key: int) -> dict:
    """The DailyStat measures of (day, dimension, key), counted from the dossiers."""
    from django.db.models import Count, Q, Sum

    column = {
        "all": None,
        "service_point": "receiving_point_id",
        "procedure": "procedure_id",
        "channel": "channel",
        "commune": "applicant_commune_id",
    }[dimension]
    scope = Q() if column is None else Q(**{column: key or None}) if dimension == "commune" else Q(**{column: key})
    received = Dossier.objects.filter(scope, received_at__date=day).aggregate(
        received=Count("id"), online=Count("id", filter=Q(channel=2))
    )
    finished = Dossier.objects.filter(scope, finished_at__date=day).aggregate(
        finished=Count("id"),
        early=Count("id", filter=Q(timeliness="early")),
        on_time=Count("id", filter=Q(timeliness="on_time")),
        late=Count("id", filter=Q(timeliness="late")),
        processing_days_sum=Sum("processing_working_days", default=0),
    )
    return {**received, **finished}


def _stored(day, dimension: str, key: int) -> dict:
    from dossiers.models import DailyStat

    row = DailyStat.objects.filter(day=day, dimension=dimension, key=key).first()
    measures = ("received", "online", "finished", "early", "on_time", "late", "processing_days_sum")
    return {m: getattr(row, m) if row else 0 for m in measures}


def test_daily_stats_follow_submissions_and_transitions(submit, people, points, catalogue):
    import datetime as dt

    from dossiers.services import dossier_transition

    from .conftest import local

    def finish(dossier, at, desk=people.desk_main):
        # The officials of the agency handling it: so-tp, or the commune's committee.
        officials = people.by_role(dossier)
        processor, leader = officials[Role.PROCESSING_OFFICER], officials[Role.LEADER]
        for action, user in (("assign", desk), ("start", processor), ("approve", leader)):
            dossier_transition(code=dossier.code, action=action, acting_user=user, at=at)
        dossier_transition(code=dossier.code, action="mark_result_ready", acting_user=processor, at=at)

    commune = points.desk.admin_unit
    # March 2027: received Monday 1 and Tuesday 2; finished early, on time,
    # late; one refused; one still open; one withdrawn (not finished).
    d1 = submit(received_at=local(2027, 3, 1, 9))  # due Thursday 4
    d2 = submit(received_at=local(2027, 3, 1, 10), user=people.desk_main, applicant_commune_code=commune.code)
    d3 = submit(received_at=local(2027, 3, 2, 9), user=people.post_clerk, procedure_code=catalogue.commune.code)
    d4 = submit(received_at=local(2027, 3, 2, 11))  # due Friday 5
    d5 = submit(received_at=local(2027, 3, 2, 14))
    d6 = submit(received_at=local(2027, 3, 1, 18), user=people.desk_commune)  # after hours: counts from Tuesday
    finish(d1, local(2027, 3, 3, 10))  # early
    finish(d2, local(2027, 3, 4, 10))  # on time
    finish(d3, local(2027, 3, 8, 10), desk=people.post_clerk)  # late (commune procedure: 2 days, due Thursday 4)
    dossier_transition(
        code=d4.code, action="refuse", acting_user=people.desk_main, note="thiếu", at=local(2027, 3, 4, 9)
    )
    dossier_transition(code=d5.code, action="withdraw", acting_user=people.citizen_a, at=local(2027, 3, 3, 9))
    dossier_transition(code=d6.code, action="assign", acting_user=people.desk_commune, at=local(2027, 3, 2, 9))

    timeliness = dict(Dossier.objects.filter(pk__in=[d1.pk, d2.pk, d3.pk, d4.pk]).values_list("code", "timeliness"))
    assert timeliness == {d1.code: "early", d2.code: "on_time", d3.code: "late", d4.code: "early"}
    days = [dt.date(2027, 3, d) for d in (1, 2, 3, 4, 5, 8)]
    keys = [("all", 0)]
    keys += [("service_point", p.pk) for p in (points.centre, points.post, points.desk)]
    keys += [("procedure", p.pk) for p in (catalogue.main, catalogue.commune)]
    keys += [("channel", c) for c in (1, 2, 3)]
    keys += [("commune", commune.pk), ("commune", 0)]
    for day in days:
        for dimension, key in keys:
            assert _stored(day, dimension, key) == _direct(day, dimension, key), (day, dimension, key)
    # And the province-wide rows are the numbers written out by hand (no
    # other dossier of the test database is received or finished in March 2027).
    zero = {"received": 0, "online": 0, "finished": 0, "early": 0, "on_time": 0, "late": 0, "processing_days_sum": 0}
    expected = {
        1: {**zero, "received": 3, "online": 1},  # d1, d2, d6 (18:00 is still 1 March)
        2: {**zero, "received": 3, "online": 2},  # d3, d4, d5
        3: {**zero, "finished": 1, "early": 1, "processing_days_sum": 2},  # d1
        4: {**zero, "finished": 2, "early": 1, "on_time": 1, "processing_days_sum": 5},  # d2 (3), d4 (2)
        5: zero,
        8: {**zero, "finished": 1, "late": 1, "processing_days_sum": 4},  # d3
    }
    for day, measures in expected.items():
        assert _stored(dt.date(2027, 3, day), "all", 0) == measures, day
