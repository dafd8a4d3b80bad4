"""Who may do what with the postal endpoints: anonymous callers, the
applicant (own parcels only), another citizen, the desk officer of the
point that received the dossier, officials of other offices, an official
who reads the dossier but does not act on it, and an administrator.
A refused call changes nothing."""

import pytest

from dossiers.models import DossierEvent
from postal.models import Shipment, TrackingEvent

CALLERS = (
    "anonymous",
    "citizen_a",
    "citizen_b",
    "desk_main",
    "desk_commune",
    "post_clerk",
    "processor",
    "processor_other",
    "administrator",
)


@pytest.fixture
def shipment(shipped):
    return shipped()  # citizen A's dossier, received online at CENTRE-MAIN (desk_main's point), so-tp


def _client(client_as, people, caller):
    return client_as(None if caller == "anonymous" else getattr(people, caller))


def _snapshot(shipment):
    s = Shipment.objects.get(pk=shipment.pk)
    return (
        s.status,
        s.picked_up_at,
        TrackingEvent.objects.filter(shipment=s).count(),
        DossierEvent.objects.filter(dossier_id=s.dossier_id).count(),
    )


# Expected status per caller: reading the shipment, its slip, and the list's count of it.
READ = {
    "anonymous": 401,
    "citizen_a": 200,
    "citizen_b": 404,
    "desk_main": 200,
    "desk_commune": 404,
    "post_clerk": 404,
    "processor": 200,  # so-tp owns the procedure and handles the dossier
    "processor_other": 404,
    "administrator": 200,
}


def test_reading_a_shipment(shipment, client_as, people):
    for caller in CALLERS:
        client = _client(client_as, people, caller)
        detail = client.get(f"/api/v1/postal/shipments/{shipment.order_code}/")
        listed = client.get("/api/v1/postal/shipments/", {"dossier": shipment.dossier.code})
        assert detail.status_code == READ[caller], caller
        if READ[caller] != 200 or caller in ("citizen_a", "desk_main"):  # a PDF costs half a second to print
            slip = client.get(f"/api/v1/postal/shipments/{shipment.order_code}/handover.pdf")
            assert slip.status_code == READ[caller], caller
        if caller == "anonymous":
            assert listed.status_code == 401
            continue
        codes = [s["order_code"] for s in listed.json()["results"]]
        assert codes == ([shipment.order_code] if READ[caller] == 200 else []), caller
        if READ[caller] == 200:  # those who see the dossier see the addressee
            assert detail.json()["receiver"]["name"] == "Nguyễn Văn A"


# Handing the result to the postal worker: only the desk of the point that received it.
ACT = {
    "anonymous": 401,
    "citizen_a": 409,
    "citizen_b": 404,
    "desk_main": 200,
    "desk_commune": 404,
    "post_clerk": 404,
    "processor": 409,
    "processor_other": 404,
    "administrator": 409,
}


def test_handing_over_a_result(shipment, client_as, people):
    # The one caller allowed goes last: every refusal before it changed nothing.
    for caller in sorted(CALLERS, key=lambda c: ACT[c] == 200):
        before = _snapshot(shipment)
        response = _client(client_as, people, caller).post(
            f"/api/v1/postal/shipments/{shipment.order_code}/actions/", {"action": "hand_to_post"}, format="json"
        )
        assert response.status_code == ACT[caller], (caller, response.content)
        if ACT[caller] == 200:
            assert _snapshot(shipment) != before
            continue
        assert _snapshot(shipment) == before, caller
        assert " / " in response.json()["detail"]
        if ACT[caller] == 409:
            assert response.json()["allowed_actions"] == []


MAPS = {
    "anonymous": 401,
    "citizen_a": 403,
    "citizen_b": 403,
    "desk_main": 200,
    "desk_commune": 200,
    "post_clerk": 200,
    "processor": 200,
    "processor_other": 200,
    "administrator": 200,
}


def test_the_postal_maps_are_for_officials(db, client_as, people):
    for caller in CALLERS:
        client = _client(client_as, people, caller)
        for url in ("/api/v1/analytics/shipments/", "/api/v1/analytics/deliveries/"):
            assert client.get(url).status_code == MAPS[caller], (caller, url)


@pytest.mark.parametrize("caller", ["anonymous", "citizen_a", "desk_main", "administrator"])
def test_the_pages(shipment, client, people, caller):
    if caller != "anonymous":
        client.force_login(getattr(people, caller))
    parcels = client.get("/postal/parcels/")
    planning = client.get("/planning/postal/")
    if caller == "anonymous":
        assert parcels.status_code == 302 and planning.status_code == 302
        return
    assert parcels.status_code == 200
    assert f'data-order="{shipment.order_code}"' in parcels.content.decode()  # each of them sees this one
    assert planning.status_code == (403 if caller == "citizen_a" else 200)


@pytest.mark.parametrize("caller", ["anonymous", "citizen_a", "desk_main"])
def test_the_sandbox_operator_page_is_for_staff_and_administrators(client, people, caller):
    if caller != "anonymous":
        client.force_login(getattr(people, caller))
    response = client.get("/sandbox/vnpost/")
    assert response.status_code == {"anonymous": 302, "citizen_a": 403, "desk_main": 403}[caller]


def test_the_sandbox_operator_page_for_an_administrator(client, people):
    client.force_login(people.administrator)
    assert client.get("/sandbox/vnpost/").status_code == 200
