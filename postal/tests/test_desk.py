"""The desk's side of the post: recording an inbound parcel received and a
result handed to the postal worker (each a step on the dossier, once), the
process control slip listing the hand-overs, and the hand-over slip."""

import datetime as dt

import pytest
from django.utils import timezone

from dossiers.models import DossierEvent
from dossiers.slips import qr_png_data_uri, slip_context
from postal.models import Shipment, TrackingEvent
from postal.slips import handover_context

from .conftest import KINH_BAC, callback_body


def _action(client_as, user, shipment, action, **extra):
    url = f"/api/v1/postal/shipments/{shipment.order_code}/actions/"
    return client_as(user).post(url, {"action": action, **extra}, format="json")


@pytest.fixture
def inbound(submit, run_carrier_jobs):
    """A dossier collected at the applicant's home, ordered from the carrier."""
    dossier = submit(postal_pickup="home", lon=KINH_BAC[0], lat=KINH_BAC[1])
    run_carrier_jobs()
    return Shipment.objects.get(dossier=dossier)


def test_the_desk_records_an_inbound_parcel_and_the_control_slip_lists_both_hand_overs(
    inbound, client_as, people, post_callback
):
    picked = timezone.now() - dt.timedelta(hours=3)
    assert post_callback(callback_body(inbound, "picked_up", picked)).status_code == 200
    response = _action(client_as, people.desk_main, inbound, "receive_at_desk", postal_worker="Lê Văn Bưu")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "delivered" and body["desk_received_at"] is not None
    assert body["allowed_actions"] == []  # received once
    step = DossierEvent.objects.get(dossier_id=inbound.dossier_id, action="shipment_handed_to_desk")
    assert step.actor_id == people.desk_main.pk and "Lê Văn Bưu" in step.note

    rows = slip_context(dossier=inbound.dossier, kind="control")["rows"]
    handovers = [(r["step"], r["actor"], r["receiver"]) for r in rows if "bưu điện" in r["step"].lower()]
    desk = inbound.dossier.receiving_point.name
    assert handovers == [
        ("Bàn giao cho nhân viên bưu điện", "Bưu điện / Vietnam Post", "Bưu điện"),
        ("Nhân viên bưu điện bàn giao hồ sơ cho bộ phận một cửa", step.actor_name, desk),
    ]
    pdf = client_as(people.desk_main).get(f"/api/v1/dossiers/{inbound.dossier.code}/slips/control.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_late_delivered_report_does_not_record_the_hand_over_twice(inbound, client_as, people, post_callback):
    assert _action(client_as, people.desk_main, inbound, "receive_at_desk").status_code == 200
    response = post_callback(callback_body(inbound, "delivered", timezone.now()))
    assert response.json()["outcome"] == "history"
    assert DossierEvent.objects.filter(dossier_id=inbound.dossier_id, action="shipment_handed_to_desk").count() == 1


def test_the_desk_hands_the_result_to_the_postal_worker_once(shipped, client_as, people, post_callback):
    shipment = shipped()
    response = _action(client_as, people.desk_main, shipment, "hand_to_post", postal_worker="Lê Văn Bưu")
    assert response.status_code == 200 and response.json()["status"] == "picked_up"
    assert post_callback(callback_body(shipment, "picked_up", timezone.now())).json()["outcome"] == "applied"
    steps = DossierEvent.objects.filter(dossier_id=shipment.dossier_id, action="shipment_picked_up")
    assert [s.actor_id for s in steps] == [people.desk_main.pk]  # the desk's own record, once
    again = _action(client_as, people.desk_main, shipment, "hand_to_post")
    assert again.status_code == 409 and "refresh" in again.json()["allowed_actions"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "teleport"}, "action"),
        ({}, "action"),
        ({"action": "hand_to_post", "postal_worker": "x" * 151}, "postal_worker"),
    ],
)
def test_bad_actions_are_400_naming_the_field(shipped, client_as, people, body, field):
    shipment = shipped()
    before = TrackingEvent.objects.filter(shipment=shipment).count()
    response = client_as(people.desk_main).post(
        f"/api/v1/postal/shipments/{shipment.order_code}/actions/", body, format="json"
    )
    assert response.status_code == 400 and field in response.json()
    assert " / " in response.json()[field][0]
    assert TrackingEvent.objects.filter(shipment=shipment).count() == before


def test_the_hand_over_slip_is_a_pdf_with_the_tracking_number_in_its_qr_code(shipped, client_as, people):
    shipment = shipped()
    context = handover_context(Shipment.objects.get(pk=shipment.pk))
    assert context["qr_data_uri"] == qr_png_data_uri(shipment.tracking_number)
    assert [h.giver for h in context["handovers"]] == ["NGƯỜI TRẢ KẾT QUẢ", "NHÂN VIÊN BƯU ĐIỆN"]
    response = client_as(people.citizen_a).get(f"/api/v1/postal/shipments/{shipment.order_code}/handover.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_a_refused_order_can_be_ordered_again(submit, drive, run_carrier_jobs, client_as, people):
    """No commune known for the address: the carrier refuses; the desk sees why."""
    dossier = drive(submit(result_delivery="post", delivery_address="Số 2 Ngô Gia Tự"), "result_ready")
    run_carrier_jobs()
    shipment = Shipment.objects.get(dossier=dossier)
    assert shipment.status == "refused" and "ReceiverWardCode" in shipment.carrier_message
    response = _action(client_as, people.desk_main, shipment, "retry")
    assert response.status_code == 200 and response.json()["status"] == "pending"


def test_the_desk_records_its_hand_over_after_the_carrier_without_taking_the_parcel_back(
    shipped, client_as, people, post_callback
):
    shipment = shipped()
    post_callback(callback_body(shipment, "picked_up", timezone.now()))
    post_callback(callback_body(shipment, "in_transit", timezone.now() + dt.timedelta(minutes=5)))
    response = _action(client_as, people.desk_main, shipment, "hand_to_post", postal_worker="Lê Văn Bưu")
    assert response.status_code == 200 and response.json()["status"] == "in_transit"
    steps = DossierEvent.objects.filter(dossier_id=shipment.dossier_id, action="shipment_picked_up")
    assert steps.count() == 1 and steps.get().actor_name == "Bưu điện / Vietnam Post"  # the first report
