"""Shipments are made from dossier events, ordered from the carrier through
the outbox, and hand-overs at the desk are recorded on the dossier."""

from dossiers.models import DossierEvent
from postal.models import CarrierRequest, Shipment, TrackingEvent

from .conftest import KINH_BAC


def test_a_result_by_post_gets_an_outbound_shipment_when_ready(submit, drive, run_carrier_jobs):
    dossier = submit(
        result_delivery="post", delivery_address="Số 2 Ngô Gia Tự", delivery_lon=KINH_BAC[0], delivery_lat=KINH_BAC[1]
    )
    assert not Shipment.objects.filter(dossier=dossier).exists()
    dossier = drive(dossier, "result_ready")
    shipment = Shipment.objects.get(dossier=dossier)
    assert (shipment.leg, shipment.status, shipment.tracking_number) == ("outbound", "pending", None)
    assert shipment.receiver_units == {"province": "24", "district": "", "commune": "09187"}
    assert CarrierRequest.objects.filter(shipment=shipment, status="queued").count() == 1
    assert run_carrier_jobs() == 1
    shipment.refresh_from_db()
    assert shipment.status == "created" and shipment.tracking_number.endswith("VN")
    assert DossierEvent.objects.filter(dossier=dossier, action="shipment_created").count() == 1
    assert list(TrackingEvent.objects.filter(shipment=shipment).values_list("status", flat=True)) == [
        "pending",
        "created",
    ]
