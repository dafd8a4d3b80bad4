"""Reads of payments with the access rules. A payment is seen by whoever
may see its dossier (`dossiers.selectors.dossiers_visible_to`): its
applicant, the desk that received it, the agencies handling it or owning
its procedure, administrators. Anyone else gets a 404, as for a missing one.

Who may do what on a dossier's fee (`payment_actions`):
- pay online: its applicant (a citizen), while a request is open;
- record a cash or POS payment: a desk officer (a post-office clerk
  included) of the desk that received it (`dossier_may_act`), while open;
- record bank statement lines: desk officers and administrators (the
  statement is the province's; a line matches any request by reference)."""

import datetime as dt

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from dossiers.models import Dossier
from dossiers.selectors import dossier_may_act, dossiers_visible_to
from gisportal.accounts.models import Role
from gisportal.accounts.selectors import Actor, actor_for

from .counts import DIMENSIONS
from .models import BankStatementLine, Payment, PaymentRequest


def payment_requests_of(dossier: Dossier) -> list[PaymentRequest]:
    """The dossier's requests, newest first, with lines, payment and refund."""
    return list(
        PaymentRequest.objects.filter(dossier=dossier)
        .select_related("payment", "payment__refund")
        .prefetch_related("lines")
        .order_by("-created_at", "-id")
    )


def online_payment_available() -> bool:
    """A gateway is configured (VNPAY_PAYMENT_URL), or the sandbox is on."""
    return bool(settings.VNPAY_PAYMENT_URL) or settings.VNPAY_SANDBOX_ENABLED


def payment_actions(actor: Actor, dossier: Dossier, request: PaymentRequest | None) -> list[str]:
    if request is None or not request.is_open:
        return []
    if actor.role == Role.CITIZEN and dossier.applicant_id == actor.user_id:
        return ["pay_online"] if online_payment_available() else []
    if actor.role == Role.DESK_OFFICER and dossier_may_act(actor, dossier):
        return ["record_counter"]
    return []


def payments_visible_to(actor: Actor) -> QuerySet[Payment]:
    if actor.is_administrator:
        return Payment.objects.all()
    return Payment.objects.filter(request__dossier__in=dossiers_visible_to(actor))


def receipt_get_for_user(*, user, number: str) -> Payment:
    """The payment of receipt `number` if `user` may see its dossier;
    Payment.DoesNotExist otherwise."""
    return (
        payments_visible_to(actor_for(user))
        .select_related("request__dossier__procedure", "request__dossier__receiving_point__admin_unit")
        .get(receipt_number=number)
    )


def receipt_public(*, number: str) -> Payment | None:
    """For the receipt check page (the QR code printed on it): no personal data is shown."""
    return Payment.objects.select_related("request__dossier__procedure", "refund").filter(receipt_number=number).first()


def bank_lines_visible_to(actor: Actor) -> QuerySet[BankStatementLine]:
    """Administrators: every line; desk officers: the lines of their point;
    anyone else: none."""
    lines = BankStatementLine.objects.select_related("request__dossier")
    if actor.is_administrator:
        return lines
    if actor.role == Role.DESK_OFFICER and actor.service_point_id:
        return lines.filter(service_point_id=actor.service_point_id)
    return lines.none()


def online_payment_counts(*, group_by: str, date_from: dt.date, date_to: dt.date) -> dict[int, tuple[int, int]]:
    """key -> (fees paid, of which online) over the days of payment in the
    period, from the pre-counted rows (`payments.counts`). `group_by`:
    province, agency, service_point or commune."""
    dimension = "all" if group_by == "province" else group_by
    if dimension not in DIMENSIONS:
        raise ValueError(f"group_by must be province or one of {DIMENSIONS[1:]}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, sum(paid), sum(paid_online) FROM payments_paymentcount "
            "WHERE dimension = %s AND day BETWEEN %s AND %s GROUP BY key",
            [dimension, date_from, date_to],
        )
        return {key: (int(paid), int(online)) for key, paid, online in cursor.fetchall()}
