"""The payment panel on the dossier page and the officials' pages: who
sees which button, what a refused form says, nothing changed by it."""

import pytest
from django.test import Client

from payments.models import BankStatementLine, Payment, PaymentRequest

from .conftest import FEE

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_the_applicant_sees_how_to_pay_and_is_sent_to_the_gateway(people, fee_dossier):
    page = _client(people.citizen_a).get(f"/dossiers/{fee_dossier.code}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="pay-online"' in html and 'id="vietqr-image"' in html and 'id="counter-form"' not in html
    assert PaymentRequest.objects.get().reference in html
    response = _client(people.citizen_a).post(f"/dossiers/{fee_dossier.code}/payment/vnpay/")
    assert response.status_code == 302
    assert response["Location"].startswith("http://testserver/sandbox/vnpay/paymentv2/vpcpay.html?vnp_Amount=5000000")
    assert _client(people.citizen_b).post(f"/dossiers/{fee_dossier.code}/payment/vnpay/").status_code == 404
    refused = _client(people.desk_main).post(f"/dossiers/{fee_dossier.code}/payment/vnpay/")
    assert refused.status_code == 403 and b'id="payment-refused"' in refused.content


def test_the_desk_records_a_payment_from_the_dossier_page(people, fee_dossier):
    desk = _client(people.desk_main)
    html = desk.get(f"/dossiers/{fee_dossier.code}/").content.decode()
    assert 'id="counter-form"' in html and 'id="pay-online"' not in html
    url = f"/dossiers/{fee_dossier.code}/payment/counter/"
    wrong = desk.post(url, {"method": "cash", "amount_vnd": "40.000"})
    assert wrong.status_code == 400 and "50.000 đồng" in wrong.content.decode()
    assert not Payment.objects.exists()
    assert _client(people.desk_commune).post(url, {"method": "cash", "amount_vnd": FEE}).status_code == 404
    assert _client(people.processor).post(url, {"method": "cash", "amount_vnd": FEE}).status_code == 403
    done = desk.post(url, {"method": "cash", "amount_vnd": "50.000"})
    assert done.status_code == 302 and done["Location"] == f"/dossiers/{fee_dossier.code}/"
    receipt = Payment.objects.get().receipt_number
    page = desk.get(f"/dossiers/{fee_dossier.code}/").content.decode()
    assert receipt in page and 'id="counter-form"' not in page
    assert desk.post(url, {"method": "cash", "amount_vnd": FEE}).status_code == 409


def test_officials_pages(people, fee_dossier):
    assert _client(None).get("/payments/reconciliation/").status_code == 302  # sign in first
    assert _client(people.citizen_a).get("/payments/reconciliation/").status_code == 403
    assert _client(people.desk_main).get("/payments/reconciliation/").status_code == 200
    bad = _client(people.desk_main).get("/payments/reconciliation/?from=2026-13-01")
    assert bad.status_code == 400
    assert _client(people.citizen_a).get("/payments/bank-lines/").status_code == 403
    desk = _client(people.desk_main)
    reference = PaymentRequest.objects.get().reference
    bad = desk.post("/payments/bank-lines/", {"bank_reference": "FT1", "value_date": "x", "amount_vnd": FEE})
    assert bad.status_code == 400 and b"value_date" in bad.content and not BankStatementLine.objects.exists()
    line = {"bank_reference": "FT1", "value_date": "2026-07-15", "amount_vnd": FEE, "memo": f"CK {reference}"}
    assert desk.post("/payments/bank-lines/", line).status_code == 302
    assert Payment.objects.get().method == "bank_transfer"
    processor = _client(people.processor).post("/payments/bank-lines/", {**line, "bank_reference": "FT2"})
    assert processor.status_code == 403 and BankStatementLine.objects.count() == 1
