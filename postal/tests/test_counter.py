"""The post office counter: a clerk receives a dossier (channel 3) and
records the fee collected, both or neither, through
POST /api/v1/postal/counter-submissions/."""

import pytest

from dossiers.models import Dossier, DossierEvent

URL = "/api/v1/postal/counter-submissions/"


def _counts():
    return Dossier.objects.count(), DossierEvent.objects.count()


def test_a_clerk_receives_a_free_dossier_at_the_counter(client_as, people, api_payload, points):
    response = client_as(people.post_clerk).post(URL, api_payload(channel=3), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["channel"], body["receiving_point"]["code"], body["fee"]) == (3, points.post.code, None)
    assert response["Location"] == body["url"]


@pytest.mark.parametrize(
    ("fee", "field"),
    [
        ({"fee_method": "bitcoin", "fee_amount_vnd": 50000}, "fee_method"),
        ({"fee_amount_vnd": 50000}, "fee_method"),
        ({"fee_method": "cash", "fee_amount_vnd": "lots"}, "fee_amount_vnd"),
        ({"fee_method": "cash"}, "fee_amount_vnd"),
        ({"fee_method": "pos", "fee_amount_vnd": 50000, "fee_reference": "x" * 61}, "fee_reference"),
    ],
)
def test_a_bad_fee_is_a_400_naming_the_field_and_nothing_is_received(
    client_as, people, api_payload, catalogue, fee, field
):
    catalogue.main.fee_vnd = 50000
    catalogue.main.save(update_fields=["fee_vnd"])
    before = _counts()
    response = client_as(people.post_clerk).post(URL, api_payload(channel=3, **fee), format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert _counts() == before


def test_a_fee_for_a_free_procedure_is_refused(client_as, people, api_payload):
    response = client_as(people.post_clerk).post(URL, api_payload(channel=3, fee_method="cash"), format="json")
    assert response.status_code == 400 and "fee_method" in response.json()


@pytest.mark.parametrize(("caller", "expected"), [(None, 401), ("citizen_a", 403), ("desk_main", 403)])
def test_only_a_post_office_clerk_uses_the_counter(client_as, people, api_payload, caller, expected):
    before = _counts()
    user = getattr(people, caller) if caller else None
    response = client_as(user).post(URL, api_payload(channel=3 if caller else 2), format="json")
    assert response.status_code == expected
    assert _counts() == before


def test_the_counter_records_the_dossier_and_its_fee_at_once(client_as, people, api_payload, catalogue):
    from payments.models import Payment

    catalogue.main.fee_vnd = 50000
    catalogue.main.save(update_fields=["fee_vnd"])
    body = api_payload(channel=3, fee_method="cash", fee_amount_vnd=50000, fee_reference="BL-0001")
    response = client_as(people.post_clerk).post(URL, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["fee"] == {"method": "cash", "amount_vnd": 50000, "reference": "BL-0001", "recorded": True}
    payment = Payment.objects.get(request__dossier__code=response.json()["code"])
    assert (payment.method, payment.amount_vnd, payment.recorded_by_id) == ("cash", 50000, people.post_clerk.pk)
    wrong = client_as(people.post_clerk).post(URL, {**body, "fee_amount_vnd": 1000}, format="json")
    assert wrong.status_code == 400 and "fee_amount_vnd" in wrong.json()  # the amount owed is the payments' rule
