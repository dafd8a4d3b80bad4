"""Every payment endpoint against the access matrix (anonymous, the
applicant, another citizen, the receiving desk, another office's desk,
the agencies, an administrator), bad input naming the field with nothing
changed, and the documents (receipt, payment slip) they serve."""

import io

import pytest

from dossiers.models import DossierEvent
from dossiers.tests.test_slips import pdf_text, qr_codes_on_first_page
from payments.models import BankStatementLine, Payment, PaymentRequest, RequestStatus

from .conftest import FEE

pytestmark = pytest.mark.django_db


def _callers(people) -> dict:
    return {
        "anonymous": None,
        "applicant": people.citizen_a,
        "other_citizen": people.citizen_b,
        "desk": people.desk_main,
        "other_desk": people.desk_commune,
        "owning_agency": people.processor,
        "other_agency": people.processor_other,
        "administrator": people.administrator,
    }


def _snapshot():
    return (
        list(PaymentRequest.objects.values_list("status", flat=True)),
        Payment.objects.count(),
        DossierEvent.objects.filter(action__startswith="payment_").count(),
    )


def test_the_dossier_payment_and_the_dossier_detail(client_as, people, fee_dossier):
    url = f"/api/v1/dossiers/{fee_dossier.code}/payment/"
    expected = {"anonymous": 401, "applicant": 200, "other_citizen": 404, "desk": 200, "other_desk": 404,
                "owning_agency": 200, "other_agency": 404, "administrator": 200}  # fmt: skip
    for name, user in _callers(people).items():
        assert client_as(user).get(url).status_code == expected[name], name
    body = client_as(people.citizen_a).get(url).json()
    (request,) = body["requests"]
    assert body["actions"] == ["pay_online"] and body["open_reference"] == request["reference"]
    assert request["status"] == "pending" and request["amount_vnd"] == FEE
    qr = request["how_to_pay"]["bank_transfer"]
    assert qr["vietqr_payload"].startswith("000201010212") and request["reference"] in qr["purpose"]
    assert client_as(people.desk_main).get(url).json()["actions"] == ["record_counter"]
    assert client_as(people.administrator).get(url).json()["actions"] == []
    detail = client_as(people.citizen_a).get(f"/api/v1/dossiers/{fee_dossier.code}/").json()
    assert detail["payment"]["requests"][0]["reference"] == request["reference"]


def test_starting_an_online_payment(client_as, people, fee_dossier):
    url = f"/api/v1/dossiers/{fee_dossier.code}/payment/vnpay/"
    expected = {"anonymous": 401, "other_citizen": 404, "desk": 403, "other_desk": 404, "owning_agency": 403,
                "other_agency": 404, "administrator": 403}  # fmt: skip
    for name, user in _callers(people).items():
        if name != "applicant":
            response = client_as(user).post(url, {}, format="json")
            assert response.status_code == expected[name], name
    assert client_as(people.citizen_a).post(url, {"locale": "fr"}, format="json").json() == {
        "locale": ["Chọn vn hoặc en. / Use vn or en."]
    }
    response = client_as(people.citizen_a).post(url, {}, format="json")
    assert response.status_code == 201
    assert response.json()["payment_url"].startswith("http://testserver/sandbox/vnpay/paymentv2/vpcpay.html?")
    assert response.json()["txn_ref"].endswith("T01")


def test_recording_a_desk_payment(client_as, people, fee_dossier):
    url = f"/api/v1/dossiers/{fee_dossier.code}/payment/counter/"
    body = {"method": "cash", "amount_vnd": FEE}
    expected = {"anonymous": 401, "applicant": 403, "other_citizen": 404, "other_desk": 404, "owning_agency": 403,
                "other_agency": 404, "administrator": 403}  # fmt: skip
    before = _snapshot()
    for name, user in _callers(people).items():
        if name != "desk":
            assert client_as(user).post(url, body, format="json").status_code == expected[name], name
    desk = client_as(people.desk_main)
    for bad, field in (
        ({"method": "cash"}, "amount_vnd"),
        ({"method": "cash", "amount_vnd": "50.000đ"}, "amount_vnd"),
        ({"method": "cash", "amount_vnd": FEE + 1}, "amount_vnd"),
        ({"method": "cheque", "amount_vnd": FEE}, "method"),
        ({"method": "pos", "amount_vnd": FEE, "reference": "x" * 61}, "reference"),
    ):
        response = desk.post(url, bad, format="json")
        assert response.status_code == 400 and list(response.json()) == [field], bad
        assert " / " in response.json()[field][0]  # Vietnamese / English
    assert desk.post(url, ["cash"], format="json").status_code == 400
    assert _snapshot() == before
    response = desk.post(url, body, format="json")
    assert response.status_code == 201
    assert response.json()["receipt_url"] == f"/api/v1/payments/receipts/{response.json()['receipt_number']}.pdf"
    assert desk.post(url, body, format="json").status_code == 409


def test_receipts_and_payment_slips(client_as, people, fee_dossier, tmp_path):
    slip_url = f"/api/v1/dossiers/{fee_dossier.code}/payment/slip.pdf"
    slip = client_as(people.citizen_a).get(slip_url)
    assert slip.status_code == 200 and slip["Content-Type"] == "application/pdf"
    reference = PaymentRequest.objects.get().reference
    text = pdf_text(slip.content, tmp_path)
    assert "GIẤY BÁO NỘP PHÍ" in text and reference in text and "Năm mươi nghìn đồng" in text
    (payload,) = qr_codes_on_first_page(slip.content, tmp_path)
    assert payload.startswith("000201010212") and reference in payload  # the VietQR transfer code
    assert client_as(people.citizen_b).get(slip_url).status_code == 404
    receipt = (
        client_as(people.desk_main)
        .post(
            f"/api/v1/dossiers/{fee_dossier.code}/payment/counter/",
            {"method": "cash", "amount_vnd": FEE},
            format="json",
        )
        .json()
    )
    assert client_as(people.citizen_a).get(slip_url).status_code == 409  # nothing left to pay
    expected = {"anonymous": 401, "applicant": 200, "other_citizen": 404, "desk": 200, "other_desk": 404,
                "owning_agency": 200, "other_agency": 404, "administrator": 200}  # fmt: skip
    for name, user in _callers(people).items():
        assert client_as(user).get(receipt["receipt_url"]).status_code == expected[name], name
    pdf = client_as(people.citizen_a).get(receipt["receipt_url"])
    assert pdf["Content-Disposition"].startswith("attachment;") and pdf["Cache-Control"] == "private, no-store"
    text = pdf_text(pdf.content, tmp_path)
    (check_url,) = qr_codes_on_first_page(pdf.content, tmp_path)
    assert f"/receipts/{receipt['receipt_number']}/check/?t=" in check_url
    for printed in ("BIÊN LAI THU PHÍ", receipt["receipt_number"], "Nguyễn Văn A", "Cấp phiếu lý lịch tư pháp",
                    fee_dossier.code, "50.000 đồng", "Năm mươi nghìn đồng", "Tiền mặt", "h4_desk_main"):  # fmt: skip
        assert printed in text, printed
    assert client_as(people.citizen_a).get("/api/v1/payments/receipts/2026-9999999.pdf").status_code == 404


def test_the_receipt_qr_code_opens_a_check_page_without_personal_data(client, client_as, people, fee_dossier):
    from payments.receipts import receipt_check_url

    payment = (
        client_as(people.desk_main)
        .post(
            f"/api/v1/dossiers/{fee_dossier.code}/payment/counter/", {"method": "pos", "amount_vnd": FEE}, format="json"
        )
        .json()
    )
    url = receipt_check_url(payment["receipt_number"]).split("8000", 1)[1]
    page = client.get(url)
    assert page.status_code == 200 and fee_dossier.code.encode() in page.content
    assert b"Nguy" not in page.content  # no name
    assert client.get(url[:-3] + "xyz").status_code == 404  # the signature is checked


def test_bank_lines_and_reconciliation(client_as, people, fee_dossier, submit):
    reference = PaymentRequest.objects.get().reference
    lines_url = "/api/v1/payments/bank-lines/"
    for user, code in ((None, 401), (people.citizen_a, 403)):
        assert client_as(user).get(lines_url).status_code == code
    line = {"bank_reference": "FT2607150001", "value_date": "2026-07-15", "amount_vnd": FEE,
            "memo": f"CK {reference} NGUYEN VAN A"}  # fmt: skip
    assert client_as(people.processor).post(lines_url, line, format="json").status_code == 403
    response = client_as(people.desk_main).post(lines_url, {**line, "value_date": "15-07"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["value_date"]
    response = client_as(people.desk_main).post(lines_url, line, format="json")
    assert response.status_code == 201 and response.json()["status"] == "matched"
    assert PaymentRequest.objects.get().status == RequestStatus.PAID
    assert Payment.objects.get().method == "bank_transfer"
    again = client_as(people.desk_main).post(lines_url, line, format="json")
    assert again.status_code == 400 and list(again.json()) == ["bank_reference"]
    # A CSV statement: one unmatched credit and one with the wrong amount.
    other = submit()
    other_reference = PaymentRequest.objects.get(dossier=other).reference
    csv = (
        "\ufeffbank_reference;value_date;amount_vnd;memo\n"
        "FT2607150002;15/07/2026;120.000;chuyen tien khong ro noi dung\n"
        f"FT2607150003;2026-07-15;40000;{other_reference}\n"
    ).encode()
    upload = io.BytesIO(csv)
    upload.name = "statement.csv"
    response = client_as(people.desk_main).post(
        "/api/v1/payments/bank-lines/import/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert response.json()["by_status"] == {"unmatched": 1, "mismatch": 1}
    bad = io.BytesIO(b"bank_reference,value_date,amount_vnd,memo\nFT9,2026-07-15,abc,x\n")
    bad.name = "bad.csv"
    response = client_as(people.desk_main).post(
        "/api/v1/payments/bank-lines/import/", {"file": bad}, format="multipart"
    )
    assert response.status_code == 400 and list(response.json()) == ["line 2: amount_vnd"]
    assert BankStatementLine.objects.count() == 3
    recon = "/api/v1/payments/reconciliation/?from=2026-07-15&to=2026-07-15"
    for user, code in ((None, 401), (people.citizen_a, 403)):
        assert client_as(user).get(recon).status_code == code
    report = client_as(people.desk_main).get(recon).json()
    kinds = sorted(row["kind"] for row in report["differences"])
    assert kinds == ["amount_mismatch", "unmatched_bank_line"]
    assert report["totals"]["bank_lines"] == {"count": 3, "amount_vnd": FEE + 120_000 + 40_000}
    assert client_as(people.desk_commune).get(recon).json()["differences"] == []  # another desk's lines
    response = client_as(people.administrator).get(recon + "&format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8" and "FT2607150002" in response.content.decode()
    response = client_as(people.administrator).get(recon + "&format=xlsx")
    assert response.status_code == 200 and response.content[:2] == b"PK"
    response = client_as(people.administrator).get("/api/v1/payments/reconciliation/?from=2026-07-16&to=2026-07-15")
    assert response.status_code == 400 and list(response.json()) == ["from"]
