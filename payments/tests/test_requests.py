"""Payment requests follow the dossier: made when a fee-bearing dossier is
received, closed when it ends, refunded when it is refused or withdrawn
before processing; every change is an event on the dossier."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from dossiers.models import DossierEvent
from payments.errors import PaymentConflict, PaymentInputError
from payments.models import FeeLine, OnlineOrder, Payment, PaymentRequest, Refund, RequestStatus
from payments.services import (
    payment_record_counter,
    payment_request_create,
    payment_requests_expire,
    vnpay_ipn_handle,
)

from .conftest import FEE, ipn_params

pytestmark = pytest.mark.django_db


def _actions(dossier) -> list[str]:
    return list(DossierEvent.objects.filter(dossier=dossier).values_list("action", flat=True))


def test_a_fee_bearing_dossier_gets_one_pending_request_when_received(fee_dossier, people):
    request = PaymentRequest.objects.get(dossier=fee_dossier)
    assert request.status == RequestStatus.PENDING
    assert request.amount_vnd == FEE
    assert [(line.label, line.amount_vnd) for line in FeeLine.objects.filter(request=request)] == [
        ("Phí, lệ phí: Cấp phiếu lý lịch tư pháp (thử) (Lệ phí cấp phiếu)", FEE)
    ]
    assert request.payer_id == people.citizen_a.pk and request.payer_name == "Nguyễn Văn A"
    # Due at closing time of the third working day after receipt.
    assert timezone.localtime(request.due_at).hour == 17 and request.due_at > fee_dossier.received_at
    # Issue #15: submitted online, then received by the desk, whose receipt asks for the fee.
    assert _actions(fee_dossier) == ["submit", "receive", "payment_requested"]
    event = DossierEvent.objects.get(dossier=fee_dossier, action="payment_requested")
    assert request.reference in event.note and event.actor_id == people.desk_main.pk


def test_an_online_dossier_is_asked_its_fee_at_receipt_not_at_submission(fee, submit, people):
    from dossiers.services import dossier_transition

    waiting = submit(receive=False)
    assert not PaymentRequest.objects.filter(dossier=waiting).exists()
    received = dossier_transition(code=waiting.code, action="receive", acting_user=people.desk_main)
    request = PaymentRequest.objects.get(dossier=waiting)
    assert (request.status, request.amount_vnd) == (RequestStatus.PENDING, FEE)
    assert request.due_at > received.received_at


def test_an_online_dossier_refused_before_receipt_is_never_asked_a_fee(fee, submit, people):
    from dossiers.services import dossier_transition

    waiting = submit(receive=False)
    dossier_transition(code=waiting.code, action="refuse", acting_user=people.desk_main, note="Sai thẩm quyền")
    assert not PaymentRequest.objects.filter(dossier=waiting).exists()


def test_a_free_dossier_gets_none(submit):
    dossier = submit()
    assert not PaymentRequest.objects.filter(dossier=dossier).exists()


def test_a_dossier_has_at_most_one_open_request(fee_dossier):
    with pytest.raises(PaymentConflict):
        payment_request_create(dossier_id=fee_dossier.pk, lines=[("again", 1_000)])
    # The partial unique index says the same, whatever the code does.
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentRequest.objects.create(
            dossier=fee_dossier,
            reference="LP999",
            amount_vnd=1,
            payer_name="x",
            created_at=timezone.now(),
            due_at=timezone.now(),
        )


def test_several_fee_lines_add_up(submit, catalogue):
    dossier = submit()  # free: no request of its own
    request = payment_request_create(dossier_id=dossier.pk, lines=[("Phí thẩm định", 30_000), ("Lệ phí", 20_000)])
    assert request.amount_vnd == 50_000 and request.lines.count() == 2


def test_requests_past_due_expire_with_an_event(fee_dossier, people):
    request = PaymentRequest.objects.get(dossier=fee_dossier)
    assert payment_requests_expire(now=request.due_at - dt.timedelta(seconds=1)) == 0
    assert payment_requests_expire(now=request.due_at + dt.timedelta(seconds=1)) == 1
    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    assert _actions(fee_dossier)[-1] == "payment_expired"
    with pytest.raises(PaymentConflict):  # nothing open to pay any more
        payment_record_counter(dossier_id=fee_dossier.pk, method="cash", amount_vnd=FEE, acting_user=people.desk_main)


def test_a_withdrawn_dossier_closes_its_open_request(fee_dossier, drive):
    drive(fee_dossier, "withdrawn")
    request = PaymentRequest.objects.get(dossier=fee_dossier)
    assert request.status == RequestStatus.EXPIRED
    assert _actions(fee_dossier)[-2:] == ["withdraw", "payment_expired"]


def test_a_desk_payment_is_refunded_at_the_desk_when_the_dossier_is_refused_before_processing(
    fee_dossier, people, drive
):
    payment = payment_record_counter(
        dossier_id=fee_dossier.pk, method="cash", amount_vnd=FEE, acting_user=people.desk_main
    )
    drive(fee_dossier, "refused")
    request = PaymentRequest.objects.get(dossier=fee_dossier)
    assert request.status == RequestStatus.REFUNDED
    refund = Refund.objects.get(payment=payment)
    assert refund.status == Refund.Status.AT_DESK and refund.amount_vnd == FEE
    assert _actions(fee_dossier)[-2:] == ["refuse", "payment_refunded"]


def test_no_refund_once_the_agency_has_processed_the_dossier(fee_dossier, people, drive):
    payment_record_counter(dossier_id=fee_dossier.pk, method="pos", amount_vnd=FEE, acting_user=people.desk_main)
    dossier = drive(fee_dossier, "processing")
    drive(dossier, "refused", path=[("refuse", "processing_officer")])
    assert PaymentRequest.objects.get(dossier=fee_dossier).status == RequestStatus.PAID
    assert not Refund.objects.exists()


def test_an_online_payment_is_refunded_through_the_outbox(
    fee_dossier, start_order, drive, django_capture_on_commit_callbacks
):
    order = start_order(fee_dossier)
    assert vnpay_ipn_handle(params=ipn_params(order))["RspCode"] == "00"
    with django_capture_on_commit_callbacks() as callbacks:
        drive(fee_dossier, "withdrawn")
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.QUEUED and refund.payment.method == "vnpay"
    assert len(callbacks) >= 1  # the publish after commit
    assert PaymentRequest.objects.get(dossier=fee_dossier).status == RequestStatus.REFUNDED


def test_payment_record_counter_contract(fee_dossier, people, points, submit):
    """The signature the postal clerk's assisted submission calls."""
    with pytest.raises(PaymentInputError) as wrong_method:
        payment_record_counter(dossier_id=fee_dossier.pk, method="card", amount_vnd=FEE, acting_user=people.desk_main)
    assert set(wrong_method.value.errors) == {"method"}
    with pytest.raises(PaymentInputError) as wrong_amount:
        payment_record_counter(
            dossier_id=fee_dossier.pk, method="cash", amount_vnd=FEE - 1, acting_user=people.desk_main
        )
    assert set(wrong_amount.value.errors) == {"amount_vnd"}
    assert not Payment.objects.exists() and PaymentRequest.objects.get().status == RequestStatus.PENDING
    at = timezone.now() - dt.timedelta(minutes=5)
    payment = payment_record_counter(
        dossier_id=fee_dossier.pk,
        method="pos",
        amount_vnd=FEE,
        acting_user=people.desk_main,
        reference="POS-778",
        at=at,
    )
    assert (payment.method, payment.amount_vnd, payment.paid_at, payment.external_reference) == (
        "pos",
        FEE,
        at,
        "POS-778",
    )
    assert payment.receipt_number.startswith(f"{timezone.localtime(at).year}-")
    assert payment.recorded_by_id == people.desk_main.pk and payment.service_point_id == points.centre.pk
    with pytest.raises(PaymentConflict):  # nothing open any more
        payment_record_counter(dossier_id=fee_dossier.pk, method="cash", amount_vnd=FEE, acting_user=people.desk_main)
    # The post-office clerk collects the fee of a dossier received at the post office.
    posted = submit(user=people.post_clerk, receiving_point_code=points.post.code)
    clerk_payment = payment_record_counter(
        dossier_id=posted.pk, method="cash", amount_vnd=FEE, acting_user=people.post_clerk
    )
    assert clerk_payment.service_point_id == points.post.pk
    assert not OnlineOrder.objects.exists()
