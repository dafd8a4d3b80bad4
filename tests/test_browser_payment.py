"""A citizen pays a dossier's fee on a 390 px phone, end to end: the dossier
page shows the fee, the VietQR code and the "pay online" button; the
portal's sandbox gateway takes the payment; the browser comes back to the
portal's return page; the gateway's IPN, sent by the sandbox through the
outbox and a real Celery worker, settles it; the dossier page then shows
the fee paid with its e-receipt.

The server and the worker share a private broker (`queue_live_server_url`,
`celery_worker_process`) and see only committed rows, made and removed by
`payments.tests.live_support`."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from payments.tests.live_support import FEE, committed_fee_world, submit_committed
from tests.browser import chromium, in_database, new_page, session_delete, session_key_for

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DOSSIER_SCREENSHOT = Path("/tmp/payment-dossier-phone.png")
SANDBOX_SCREENSHOT = Path("/tmp/payment-sandbox-phone.png")
PAID_SCREENSHOT = Path("/tmp/payment-paid-phone.png")

expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[dict]:
    with committed_fee_world(django_db_blocker) as world:
        with django_db_blocker.unblock():
            world["dossier"] = submit_committed(world)
            world["session"] = session_key_for(world["citizen"])
        try:
            yield world
        finally:
            with django_db_blocker.unblock():
                session_delete(world["session"])


@pytest.fixture(scope="module")
def browser(world) -> Iterator[Browser]:
    yield from chromium()


@pytest.mark.django_db
def test_the_ipn_endpoint_answers_json(client):
    # A database test first: the test database exists even when this module runs alone.
    assert client.get("/api/v1/payments/vnpay/ipn/").json()["RspCode"] == "97"


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "horizontal scrolling at 390 px"


def test_a_citizen_pays_online_through_the_sandbox_and_gets_the_receipt(
    world, browser, queue_live_server_url, celery_worker_process, django_db_blocker
):
    from payments.models import Payment

    dossier = world["dossier"]
    base = queue_live_server_url
    page, errors = new_page(browser, base, session_key=world["session"], viewport=PHONE, is_mobile=True)
    page.goto(f"{base}/dossiers/{dossier.code}/")
    expect(page.locator("#payment-status")).to_have_text("Chờ thanh toán")
    expect(page.locator("#vietqr-image")).to_be_visible()
    expect(page.locator("#payment-slip")).to_be_visible()
    _fits(page)
    page.screenshot(path=str(DOSSIER_SCREENSHOT), full_page=True)

    page.locator("#pay-online").click()
    expect(page.locator("#sandbox-amount")).to_have_text(f"{FEE:,} VND".replace(",", "."))
    _fits(page)
    page.screenshot(path=str(SANDBOX_SCREENSHOT), full_page=True)
    page.locator("#sandbox-success").click()

    expect(page.locator("#return-result")).to_have_attribute("data-result", "success")
    page.locator("#back-to-dossier").click()
    # The IPN arrives from the worker: reload until the page shows it.
    for _ in range(30):
        if page.locator("#payment-status").inner_text() == "Đã thanh toán":
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#payment-status")).to_have_text("Đã thanh toán")
    receipt = page.locator("#receipt-link")
    expect(receipt).to_be_visible()
    _fits(page)
    page.screenshot(path=str(PAID_SCREENSHOT), full_page=True)
    number = receipt.get_attribute("data-receipt")
    response = page.request.get(base + receipt.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"

    payment = in_database(
        django_db_blocker, lambda: Payment.objects.select_related("request").get(receipt_number=number)
    )
    assert payment.method == "vnpay" and payment.amount_vnd == FEE and payment.request.dossier_id == dossier.pk
    assert errors == []
