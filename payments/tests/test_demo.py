"""The payments of the demo history: consistent with the dossiers, the
rules of the services, and the pre-counted rows; removed and rebuilt with
the history."""

import pytest
from django.db.models import Count, F

from dossiers.models import Dossier, DossierEvent
from dossiers.tests.stats_support import history_generate
from payments.counts import payment_counts_rebuild
from payments.models import (
    BankStatementLine,
    GatewayTransaction,
    OnlineOrder,
    Payment,
    PaymentCount,
    PaymentRequest,
    ReceiptCounter,
)
from payments.references import reference_valid

pytestmark = pytest.mark.django_db
COUNT = 3000


def test_the_demo_history_has_fees_paid_by_every_method(catalogue, points):
    history_generate(count=COUNT, seed=5)
    fee_dossiers = Dossier.objects.filter(is_demo=True, fee_vnd__gt=0)
    assert PaymentRequest.objects.count() == fee_dossiers.count() > 300
    assert not Dossier.objects.filter(is_demo=True, fee_vnd=0, payment_requests__isnull=False).exists()
    requests = PaymentRequest.objects.select_related("dossier")
    assert all(reference_valid(r.reference) and r.amount_vnd == r.dossier.fee_vnd for r in requests)
    statuses = dict(PaymentRequest.objects.values_list("status").annotate(n=Count("id")))
    assert statuses["paid"] > 0.8 * sum(statuses.values()) and statuses.get("expired", 0) > 0
    # Exactly one payment per paid request, its receipt numbers consecutive per year.
    assert Payment.objects.count() == statuses["paid"]
    methods = dict(Payment.objects.values_list("method").annotate(n=Count("id")))
    assert set(methods) == {"vnpay", "bank_transfer", "cash", "pos"}
    for counter in ReceiptCounter.objects.all():
        numbers = sorted(
            int(n.split("-")[1]) for n in Payment.objects.filter(receipt_number__startswith=f"{counter.year}-")
            .values_list("receipt_number", flat=True)
        )  # fmt: skip
        assert numbers == list(range(1, counter.last + 1))
    # Online payments have their order and signed IPN; transfers their bank line.
    assert OnlineOrder.objects.count() == methods["vnpay"]
    assert not Payment.objects.filter(method="vnpay", order__isnull=True).exists()
    assert not Payment.objects.filter(method="bank_transfer", bank_line__isnull=True).exists()
    assert GatewayTransaction.objects.filter(answer_code="00").count() == methods["vnpay"]
    assert BankStatementLine.objects.filter(status="matched").count() == methods["bank_transfer"]
    # Every step is on the dossier's timeline, after the receipt.
    events = dict(
        DossierEvent.objects.filter(action__startswith="payment_").values_list("action").annotate(n=Count("id"))
    )
    assert events["payment_requested"] == PaymentRequest.objects.count()
    assert events["payment_paid"] == Payment.objects.count()
    assert not Payment.objects.filter(paid_at__lt=F("request__created_at")).exists()
    # The pre-counted rows equal a rebuild.
    kept = sorted(PaymentCount.objects.values_list("day", "dimension", "key", "paid", "paid_online"))
    payment_counts_rebuild()
    assert kept == sorted(PaymentCount.objects.values_list("day", "dimension", "key", "paid", "paid_online"))
    # A second run replaces them.
    history_generate(count=COUNT // 3, seed=6)
    assert PaymentRequest.objects.count() == Dossier.objects.filter(is_demo=True, fee_vnd__gt=0).count()
    assert not PaymentRequest.objects.exclude(dossier__in=Dossier.objects.filter(is_demo=True)).exists()
