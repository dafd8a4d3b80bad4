"""Demo parcels, the post's part of the demo history: one outbound leg per
demo dossier whose result goes by post and is ready, in a state that agrees
with the dossier, its hand-overs on the dossier's timeline; a new history
replaces them."""

from django.db.models import F

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import Dossier, DossierEvent
from postal.demo import postal_demo_present
from postal.models import Shipment, TrackingEvent
from postal.sandbox.services import s10_check_digit


def _due():
    return Dossier.objects.filter(is_demo=True, result_delivery="post", status__in=["result_ready", "result_returned"])


def test_demo_parcels_follow_the_demo_history(db):
    commune_committees_ensure()
    dossier_history_generate(count=3000, seed=7)
    shipments = Shipment.objects.filter(dossier__is_demo=True).select_related("dossier")
    assert shipments.count() == _due().count() > 20 and postal_demo_present()
    for shipment in shipments:
        serial = shipment.tracking_number[2:10]
        assert shipment.tracking_number == f"ED{serial}{s10_check_digit(serial)}VN"
        if shipment.dossier.status == "result_returned":
            assert (shipment.status, shipment.delivered_at) == ("delivered", shipment.dossier.returned_at)
            assert shipment.picked_up_at < shipment.delivered_at
        else:
            assert shipment.status in ("created", "picked_up", "in_transit", "delivery_failed")
    # Each parcel's history ends in its current status.
    last = {}
    for row in TrackingEvent.objects.filter(shipment__in=shipments).order_by("shipment_id", "-occurred_at", "-id"):
        last.setdefault(row.shipment_id, row.status)
    assert all(last[s.pk] == s.status for s in shipments)
    assert not shipments.exclude(citizen_commune=F("dossier__applicant_commune")).exists()
    assert shipments.filter(failed_attempts__gt=0).exists()
    delivered = shipments.filter(status="delivered").count()
    assert DossierEvent.objects.filter(dossier__is_demo=True, action="shipment_delivered").count() == delivered
    # A new history replaces the demo dossiers and their parcels (the post's
    # part deletes its rows first, so its tables never keep the history from
    # being truncated).
    old = set(shipments.values_list("pk", flat=True))
    dossier_history_generate(count=500, seed=8)
    assert not Shipment.objects.filter(pk__in=old).exists() and not TrackingEvent.objects.filter(shipment_id__in=old)
    assert Shipment.objects.count() == _due().count()
