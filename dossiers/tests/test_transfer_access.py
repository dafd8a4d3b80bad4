"""Reading a dossier is one right, acting on it another
(`selectors.dossier_may_act`). After a transfer from so-tp (which owns the
procedure) to so-y-te, walked over the workflow table:

- so-tp's processing officer and leader still read the dossier, but every
  action (and the apology) is a 409 that changes nothing and writes no
  event; the API offers them no action and the pages show no button;
- so-y-te's processing officer and leader act, exactly as the table allows;
- the applicant keeps the citizen moves, the receiving desk its desk moves;
- a desk officer of another point gets a 404, as for a missing dossier;
- administrators read only."""

import pytest

from dossiers.models import DossierEvent
from dossiers.workflow import TRANSITIONS, transitions_from
from gisportal.accounts.models import Role

from .conftest import PATHS, TRANSFER_AGENCY, local
from .test_access import _snapshot

pytestmark = pytest.mark.django_db

PROCESSOR, LEADER, DESK, CITIZEN = Role.PROCESSING_OFFICER, Role.LEADER, Role.DESK_OFFICER, Role.CITIZEN
ACTIONS = [t.action for t in TRANSITIONS]

# Every state a dossier can reach after the transfer to so-y-te, by a legal
# path taken by the officials of the agency handling it at each step
# (People.by_role(dossier)). "received" and "assigned" are not reachable again.
_TRANSFERRED = PATHS["transferred"]
_STARTED = [*_TRANSFERRED, ("start", PROCESSOR)]
_APPROVED = [*_STARTED, ("approve", LEADER)]
AFTER_TRANSFER: dict[str, list[tuple[str, str]]] = {
    "transferred": _TRANSFERRED,
    "processing": _STARTED,
    "waiting_supplement": [*_STARTED, ("request_supplement", PROCESSOR)],
    "supplemented": [*_STARTED, ("request_supplement", PROCESSOR), ("supplement", CITIZEN)],
    "approved": _APPROVED,
    "result_ready": [*_APPROVED, ("mark_result_ready", PROCESSOR)],
    "result_returned": [*_APPROVED, ("mark_result_ready", PROCESSOR), ("return_result", DESK)],
    "refused": [*_STARTED, ("refuse", LEADER)],
    "stopped": [*_TRANSFERRED, ("stop", LEADER)],
    "withdrawn": [*_TRANSFERRED, ("withdraw", CITIZEN)],
}

# (action, state, role) that the table allows after the transfer, for the
# roles whose right depends on the agency: so-y-te's officials take them.
NEW_AGENCY_MOVES = sorted(
    (t.action, state, role)
    for t in TRANSITIONS
    for state in AFTER_TRANSFER
    for role in (PROCESSOR, LEADER)
    if state in t.sources and role in t.roles
)


def _body(action: str) -> dict:
    # A note and an agency (so-tp, the one it came from) on every call: a
    # refusal is then never the 400 of a missing note or agency.
    return {"action": action, "note": f"ghi chú {action}", "agency": "so-tp"}


@pytest.fixture
def late_transferred(submit, drive):
    """drive to `state` after a transfer, a dossier received on Monday 6
    January 2020: long past its due date, so an apology would be in order."""

    def make(state: str):
        dossier = drive(submit(received_at=local(2020, 1, 6, 9)), state, path=AFTER_TRANSFER[state])
        assert dossier.agency.code == TRANSFER_AGENCY
        return dossier

    return make


@pytest.mark.parametrize("state", sorted(AFTER_TRANSFER))
def test_the_old_agency_reads_but_every_action_is_refused(state, late_transferred, people, client_as, client):
    dossier = late_transferred(state)
    before = _snapshot(dossier)
    for user in (people.processor, people.leader):
        api = client_as(user)
        detail = api.get(f"/api/v1/dossiers/{dossier.code}/")
        assert detail.status_code == 200
        assert detail.json()["allowed_actions"] == []
        for action in ACTIONS:
            response = api.post(f"/api/v1/dossiers/{dossier.code}/transitions/", _body(action), format="json")
            assert response.status_code == 409, (user.username, action, response.content)
            body = response.json()
            assert body["allowed_actions"] == []
            assert body["status"] == state
            # Vietnamese / English, naming who handles it now.
            assert " / " in body["detail"] and dossier.agency.name in body["detail"]
        apology = api.post(
            f"/api/v1/dossiers/{dossier.code}/apologies/",
            {"reason": "Chờ ý kiến", "new_due_at": "2099-01-05"},
            format="json",
        )
        assert apology.status_code == 409
        assert dossier.agency.name in apology.json()["detail"]
        # The pages: no action button, no apology form, and a posted action is a 409.
        client.force_login(user)
        page = client.get(f"/dossiers/{dossier.code}/")
        assert page.status_code == 200
        html = page.content.decode()
        assert 'id="actions"' not in html
        assert 'name="new_due_at"' not in html
        assert client.post(f"/dossiers/{dossier.code}/action/", _body(ACTIONS[0])).status_code == 409
        assert (
            client.post(f"/dossiers/{dossier.code}/apology/", {"reason": "x", "new_due_at": "2099-01-05"}).status_code
            == 409
        )
        worklist = client.get("/worklist/", {"status": state}).content.decode()
        assert dossier.code in worklist  # still listed: reading is allowed
        assert f'action="/dossiers/{dossier.code}/action/"' not in worklist
        assert f'href="/dossiers/{dossier.code}/#action-' not in worklist
    assert _snapshot(dossier) == before


@pytest.mark.parametrize(("action", "state", "role"), NEW_AGENCY_MOVES, ids=["-".join(m) for m in NEW_AGENCY_MOVES])
def test_the_new_agency_acts_as_the_table_allows(action, state, role, late_transferred, people, client_as):
    dossier = late_transferred(state)
    user = people.leader_other if role == LEADER else people.processor_other
    api = client_as(user)
    offered = {a["action"] for a in api.get(f"/api/v1/dossiers/{dossier.code}/").json()["allowed_actions"]}
    assert offered == {t.action for t in transitions_from(state, role)}
    events = DossierEvent.objects.filter(dossier=dossier).count()
    response = api.post(f"/api/v1/dossiers/{dossier.code}/transitions/", _body(action), format="json")
    assert response.status_code == 200, response.content
    event = DossierEvent.objects.filter(dossier=dossier).latest("id")
    assert DossierEvent.objects.filter(dossier=dossier).count() == events + 1
    assert (event.action, event.actor_id, event.actor_agency.code) == (action, user.pk, TRANSFER_AGENCY)


def test_the_new_agency_apologises_and_sees_its_buttons(late_transferred, people, client_as, client):
    dossier = late_transferred("processing")
    response = client_as(people.processor_other).post(
        f"/api/v1/dossiers/{dossier.code}/apologies/",
        {"reason": "Chờ ý kiến", "new_due_at": "2099-01-05"},
        format="json",
    )
    assert response.status_code == 201
    client.force_login(people.leader_other)
    html = client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert 'id="actions"' in html and 'value="approve"' in html
    assert 'name="new_due_at"' in html


@pytest.mark.parametrize("state", sorted(AFTER_TRANSFER))
def test_the_applicant_and_the_receiving_desk_keep_their_moves(state, late_transferred, people, client_as):
    dossier = late_transferred(state)
    for user, role in ((people.citizen_a, CITIZEN), (people.desk_main, DESK)):
        offered = client_as(user).get(f"/api/v1/dossiers/{dossier.code}/").json()["allowed_actions"]
        assert [a["action"] for a in offered] == [t.action for t in transitions_from(state, role)], user.username
    moves = transitions_from(state, CITIZEN)
    if moves:
        response = client_as(people.citizen_a).post(
            f"/api/v1/dossiers/{dossier.code}/transitions/", _body(moves[0].action), format="json"
        )
        assert response.status_code == 200
        assert DossierEvent.objects.filter(dossier=dossier).latest("id").actor_id == people.citizen_a.pk


@pytest.mark.parametrize("state", ["transferred", "processing"])
def test_others_get_404_and_administrators_read_only(state, late_transferred, people, client_as):
    dossier = late_transferred(state)
    before = _snapshot(dossier)
    for user in (people.desk_commune, people.post_clerk, people.citizen_b):
        api = client_as(user)
        assert api.get(f"/api/v1/dossiers/{dossier.code}/").status_code == 404
        for action in ACTIONS:
            response = api.post(f"/api/v1/dossiers/{dossier.code}/transitions/", _body(action), format="json")
            assert response.status_code == 404, (user.username, action)
    admin = client_as(people.administrator)
    assert admin.get(f"/api/v1/dossiers/{dossier.code}/").json()["allowed_actions"] == []
    for action in ACTIONS:
        response = admin.post(f"/api/v1/dossiers/{dossier.code}/transitions/", _body(action), format="json")
        assert response.status_code == 409
        assert response.json()["allowed_actions"] == []
    assert _snapshot(dossier) == before


def test_a_desk_officer_without_a_point_acts_for_the_agency_handling_the_dossier(submit, drive, make_user):
    from dossiers.selectors import dossier_may_act, dossiers_visible_to
    from gisportal.accounts.selectors import actor_for

    dossier = drive(submit(), "transferred")
    old_desk = actor_for(make_user("h10_desk_tp", role=DESK, agency="so-tp"))
    new_desk = actor_for(make_user("h10_desk_yte", role=DESK, agency=TRANSFER_AGENCY))
    assert not dossiers_visible_to(old_desk).filter(pk=dossier.pk).exists()
    assert not dossier_may_act(old_desk, dossier)
    assert dossiers_visible_to(new_desk).filter(pk=dossier.pk).exists()
    assert dossier_may_act(new_desk, dossier)


def test_whoever_may_act_may_see(submit, drive, people):
    """The acting rule never reaches a dossier that the caller may not see."""
    from dossiers.selectors import dossier_may_act, dossiers_visible_to
    from gisportal.accounts.selectors import actor_for

    dossiers = [drive(submit(), "transferred"), drive(submit(), "processing"), submit()]
    for user in vars(people).values():
        actor = actor_for(user)
        visible = set(dossiers_visible_to(actor).filter(pk__in=[d.pk for d in dossiers]).values_list("pk", flat=True))
        for dossier in dossiers:
            if dossier_may_act(actor, dossier):
                assert dossier.pk in visible, (user.username, dossier.status)
