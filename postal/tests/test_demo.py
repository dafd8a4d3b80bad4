"""Demo parcels derived from a demo history: one outbound leg per demo
dossier whose result goes by post and is ready, in a state that agrees with
the dossier; loading again adds nothing."""

from django.db.models import Count, F

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import Dossier
from postal.demo import postal_demo_load
from postal.models import Shipment, TrackingEvent
from postal.sandbox.services import s10_check_digit


def test_demo_parcels_follow_the_demo_history(db):
    commune_committees_ensure()
    dossier_history_generate(count=3000, seed=7)
    made = postal_demo_load()
    due = Dossier.objects.filter(is_demo=True, result_delivery="post", status__in=["result_ready", "result_returned"])
    assert made == due.count() > 20
    assert postal_demo_load() == 0  # idempotent
    shipments = Shipment.objects.filter(dossier__is_demo=True).select_related("dossier")
    for shipment in shipments:
        serial = shipment.tracking_number[2:10]
        assert shipment.tracking_number == f"ED{serial}{s10_check_digit(serial)}VN"
        if shipment.dossier.status == "result_returned":
            assert (shipment.status, shipment.delivered_at) == ("delivered", shipment.dossier.returned_at)
            assert shipment.picked_up_at < shipment.delivered_at
        else:
            assert shipment.status in ("created", "picked_up", "in_transit", "delivery_failed")
    # Each parcel's history ends in its current status.
    last = TrackingEvent.objects.filter(shipment__in=shipments).order_by("shipment_id", "-occurred_at", "-id")
    seen = {}
    for row in last:
        seen.setdefault(row.shipment_id, row.status)
    assert all(seen[s.pk] == s.status for s in shipments)
    assert not shipments.exclude(citizen_commune=F("dossier__applicant_commune")).exists()
    assert shipments.filter(failed_attempts__gt=0).exists()
    # A new history replaces the demo dossiers, and their parcels with them,
    # still by TRUNCATE (the postal tables hang on dossiers and nothing else).
    timings: dict = {}
    dossier_history_generate(count=500, seed=8, timings=timings)
    assert timings["delete_mode"] == "truncate"
    assert not Shipment.objects.exists() and not TrackingEvent.objects.exists()
    assert Shipment.objects.values("dossier").annotate(n=Count("id")).filter(n__gt=1).count() == 0
