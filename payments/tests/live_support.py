"""Committed rows for the tests that go through the project's own server
(another process, which sees only committed rows): a procedure with a fee,
a commune desk of our own (so the code counter is ours alone), a citizen
and a desk officer there; everything they cause is removed afterwards and
the counters put back."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.gis.geos import Point
from django.utils import timezone

FEE = 75_000
PLACE = (106.0712, 21.1790)


@contextmanager
def committed_fee_world(django_db_blocker) -> Iterator[dict]:
    from dossiers.density_counts import density_rebuild
    from dossiers.models import CodeCounter, DailyStat, Dossier, Procedure, Sector
    from gisportal.accounts.models import Agency, Profile
    from gisportal.accounts.services import user_ensure
    from layers.models import ServicePoint, ServicePointKind
    from payments.models import GatewayTransaction, PaymentCount, ReceiptCounter, SandboxTransaction

    suffix = uuid.uuid4().hex[:8]
    unit = f"000.98.{int(suffix[:4], 16) % 100:02d}.H98"
    with django_db_blocker.unblock():
        today = timezone.localdate()
        stats_before = list(DailyStat.objects.filter(day=today))
        counts_before = list(PaymentCount.objects.all())
        receipts_before = list(ReceiptCounter.objects.all())
        sector = Sector.objects.create(code=f"pay-live-{suffix}", name="Lĩnh vực thử nghiệm thanh toán")
        procedure = Procedure.objects.create(
            code=f"9.97{int(suffix, 16) % 10000:04d}",
            name=f"Cấp giấy phép thử nghiệm có phí ({suffix})",
            sector=sector,
            agency=Agency.objects.get(code="so-tp"),
            level="province",
            online_level="full",
            processing_days=5,
            fee_vnd=FEE,
        )
        desk = ServicePoint.objects.create(
            code=f"PAY-DESK-{suffix}",
            kind=ServicePointKind.COMMUNE_DESK,
            name=f"Bộ phận một cửa thử nghiệm thanh toán {suffix}",
            address="Số 2 đường thử nghiệm",
            geom=Point(*PLACE, srid=4326),
            receiving_unit_identifier=unit,
        )
        citizen = user_ensure(username=f"pay-citizen-{suffix}", password="x-Strong-pass-1", role="citizen")
        Profile.objects.filter(user=citizen).update(full_name="Lê Thị Hoa", id_number="027095007788")
        citizen.refresh_from_db()
        officer = user_ensure(
            username=f"pay-desk-{suffix}",
            password="x-Strong-pass-1",
            role="desk_officer",
            agency=Agency.objects.get(code="ttpvhcc"),
            service_point=desk,
        )
    world = {"procedure": procedure, "desk": desk, "citizen": citizen, "officer": officer, "suffix": suffix}
    try:
        yield world
    finally:
        with django_db_blocker.unblock():
            dossiers = Dossier.objects.filter(procedure=procedure)
            refs = [r for r in dossiers.values_list("payment_requests__reference", flat=True) if r]
            txn_refs = [f"{r}T{n:02d}" for r in refs for n in range(1, 10)]
            GatewayTransaction.objects.filter(txn_ref__in=txn_refs).delete()
            SandboxTransaction.objects.filter(txn_ref__in=txn_refs).delete()  # with their IPN deliveries
            dossiers.delete()  # events, requests, orders, payments and refunds go with them
            CodeCounter.objects.filter(unit_identifier=unit).delete()
            DailyStat.objects.filter(day=today).delete()
            DailyStat.objects.bulk_create(stats_before)
            PaymentCount.objects.all().delete()
            PaymentCount.objects.bulk_create(counts_before)
            ReceiptCounter.objects.all().delete()
            ReceiptCounter.objects.bulk_create(receipts_before)
            density_rebuild()
            procedure.delete()
            sector.delete()
            officer.delete()
            desk.delete()
            citizen.delete()


def submit_committed(world: dict):
    """A dossier of the world's citizen, submitted online and received by its
    desk's officer (committed): the fee is asked at receipt (issue #15)."""
    from dossiers.services import Submission, dossier_submit, dossier_transition

    dossier, _ = dossier_submit(
        submission=Submission(
            procedure_code=world["procedure"].code,
            applicant_name="Lê Thị Hoa",
            applicant_id_number="027095007788",
            applicant_address="Số 5 phố thử nghiệm, Bắc Ninh",
            channel=2,
            receiving_point_code=world["desk"].code,
        ),
        acting_user=world["citizen"],
    )
    return dossier_transition(code=dossier.code, action="receive", acting_user=world["officer"])
