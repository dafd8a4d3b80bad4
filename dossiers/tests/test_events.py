"""The dossier core announces every event row it writes, inside the
transaction that wrote it; other apps record their steps through one service."""

import pytest
from django.db import connection

from dossiers.events import dossier_changes_subscribe, dossier_changes_unsubscribe
from dossiers.models import Dossier, DossierEvent
from dossiers.services import dossier_record_event, dossier_transition


@pytest.fixture
def heard():
    """The changes announced during the test, with whether each came inside
    an open transaction."""
    changes = []

    def listen(change):
        changes.append((change, connection.in_atomic_block))

    dossier_changes_subscribe(listen)
    yield changes
    dossier_changes_unsubscribe(listen)


def test_every_event_row_is_announced_once_inside_its_transaction(submit, drive, heard):
    dossier = submit()
    drive(dossier, "approved")
    rows = list(DossierEvent.objects.filter(dossier=dossier).order_by("at", "id"))
    assert [c.event_id for c, _ in heard] == [row.pk for row in rows]
    assert [(c.action, c.from_status, c.to_status) for c, _ in heard] == [
        # Issue #15: an online dossier is submitted, then received by the desk.
        ("submit", "", "waiting_receipt"),
        ("receive", "waiting_receipt", "received"),
        ("assign", "received", "assigned"),
        ("start", "assigned", "processing"),
        ("approve", "processing", "approved"),
    ]
    assert all(inside for _, inside in heard)
    assert {c.code for c, _ in heard} == {dossier.code}


def test_a_failing_subscriber_rolls_the_change_back(submit, people, heard):
    dossier = submit()

    def refuse(change):
        raise RuntimeError("subscriber failed")

    dossier_changes_subscribe(refuse)
    try:
        with pytest.raises(RuntimeError):
            dossier_transition(code=dossier.code, action="assign", acting_user=people.desk_main)
    finally:
        dossier_changes_unsubscribe(refuse)
    dossier.refresh_from_db()
    assert dossier.status == "received"
    assert list(DossierEvent.objects.filter(dossier=dossier).values_list("action", flat=True)) == [
        "submit",
        "receive",
    ]


def test_another_app_records_a_step_without_changing_the_status(submit, heard):
    dossier = submit()
    event = dossier_record_event(
        dossier_id=dossier.pk, action="payment_paid", note="150.000 đ", actor_name="VNPay (cổng thanh toán)"
    )
    assert (event.from_status, event.to_status, event.actor_id) == ("received", "received", None)
    assert event.actor_name == "VNPay (cổng thanh toán)"
    assert Dossier.objects.get(pk=dossier.pk).status == "received"
    assert heard[-1][0].action == "payment_paid" and not heard[-1][0].status_changed


@pytest.mark.parametrize("action", ["approve", "return_result", "Payment_paid", "paid", "x" * 31 + "_y"])
def test_workflow_actions_and_odd_names_cannot_be_recorded(submit, action):
    dossier = submit()
    with pytest.raises(ValueError):
        dossier_record_event(dossier_id=dossier.pk, action=action)
    assert DossierEvent.objects.filter(dossier=dossier).count() == 2  # submitted online, then received


def test_a_system_returns_a_result_on_the_day_it_was_delivered(submit, drive, heard):
    from dossiers.services import dossier_transition_by_system
    from dossiers.tests.conftest import local

    dossier = drive(submit(result_delivery="post", delivery_address="Số 2 Ngô Gia Tự, Bắc Ninh"), "result_ready")
    assert dossier.finished_at is None  # a result sent by post is not finished when ready
    delivered = local(2030, 1, 7, 15, 30)  # reported later than it happened
    dossier_transition_by_system(
        dossier_id=dossier.pk, action="return_result", actor_name="Bưu điện / Vietnam Post", at=delivered
    )
    dossier.refresh_from_db()
    assert (dossier.status, dossier.returned_at, dossier.finished_at) == ("result_returned", delivered, delivered)
    event = DossierEvent.objects.filter(dossier=dossier).latest("id")
    assert (event.actor_id, event.actor_name, event.actor_role) == (None, "Bưu điện / Vietnam Post", "system")
    assert heard[-1][0].action == "return_result"
    assert dossier.timeliness == "late"  # classified on the delivery date, years after the due date


def test_a_result_collected_at_the_desk_is_finished_when_ready(submit, drive):
    dossier = drive(submit(), "result_ready")
    assert dossier.finished_at is not None and dossier.timeliness


@pytest.mark.parametrize("action", ["approve", "withdraw", "no_such_action"])
def test_a_system_may_only_make_the_moves_the_table_gives_it(submit, drive, action):
    from dossiers.services import dossier_transition_by_system

    dossier = drive(submit(), "processing")
    with pytest.raises(ValueError):
        dossier_transition_by_system(dossier_id=dossier.pk, action=action, actor_name="x")
    assert Dossier.objects.get(pk=dossier.pk).status == "processing"


def test_a_system_move_from_the_wrong_state_is_refused_and_changes_nothing(submit, drive):
    from dossiers.errors import TransitionNotAllowed
    from dossiers.services import dossier_transition_by_system

    dossier = drive(submit(), "approved")
    before = DossierEvent.objects.filter(dossier=dossier).count()
    with pytest.raises(TransitionNotAllowed):
        dossier_transition_by_system(dossier_id=dossier.pk, action="return_result", actor_name="x")
    assert Dossier.objects.get(pk=dossier.pk).status == "approved"
    assert DossierEvent.objects.filter(dossier=dossier).count() == before
