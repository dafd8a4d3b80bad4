"""Dossiers committed for end-to-end tests (the server and the workers are
other processes and see only committed rows), made and moved through the
dossier services, and removed afterwards with everything they caused: their
events and notifications, the code counters and the indicator counts
(rebuilt), the accounts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from gisportal.accounts.models import Agency, Profile
from gisportal.accounts.services import user_ensure

PASSWORD = "x-Strong-pass-1"
CITIZEN_ID = "027095001234"


@dataclass
class Committed:
    citizen: object
    desk: object
    dossiers: list = field(default_factory=list)

    def submit(self, *, receive: bool = True, **fields):
        """An online dossier of the citizen; received by the desk unless
        `receive=False` (issue #15: online dossiers wait for receipt)."""
        from dossiers.models import Procedure
        from dossiers.services import Submission, dossier_submit, dossier_transition

        procedure = Procedure.objects.filter(is_active=True, level="province").order_by("code").first()
        values = {
            "procedure_code": procedure.code,
            "applicant_name": "Nguyễn Văn Thử",
            "applicant_id_number": CITIZEN_ID,
            "applicant_address": "Số 1 đường Lý Thái Tổ, Bắc Ninh",
            "channel": 2,
            "receiving_point_code": "CENTRE-MAIN",
            **fields,
        }
        dossier, _ = dossier_submit(submission=Submission(**values), acting_user=self.citizen)
        self.dossiers.append(dossier)
        if receive and dossier.status == "waiting_receipt":
            dossier = dossier_transition(code=dossier.code, action="receive", acting_user=self.desk)
        return dossier

    def move(self, dossier, action: str, note: str = "bước thử"):
        from dossiers.services import dossier_transition

        return dossier_transition(code=dossier.code, action=action, acting_user=self.desk, note=note)


def table_marks() -> dict:
    """The highest id of every table with an integer id: what
    `rows_added_remove` keeps."""
    from django.apps import apps
    from django.db.models import AutoField, BigAutoField, Max, SmallAutoField

    marks = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        if isinstance(model._meta.pk, AutoField | BigAutoField | SmallAutoField):
            marks[model] = model._base_manager.aggregate(last=Max("pk"))["last"] or 0
    return marks


def rows_added_remove(marks: dict, counters: list) -> None:
    """Removes every row added since `table_marks()` by any process (the
    server of an end-to-end run writes wherever a request leads: dossiers,
    ratings, phone codes, gateway messages), then puts the counters back
    (`dossiers_remove`). Rows whose deletion another row blocks go on a later
    pass, once that row is gone."""
    from django.db import IntegrityError, transaction
    from django.db.models import ProtectedError, RestrictedError

    from dossiers.models import Dossier

    dossiers_remove(Dossier.objects.filter(pk__gt=marks.get(Dossier, 0)), counters)
    pending = list(marks)
    for _ in range(6):
        blocked = []
        for model in pending:
            try:
                with transaction.atomic():
                    model._base_manager.filter(pk__gt=marks[model]).delete()
            except (ProtectedError, RestrictedError, IntegrityError):
                blocked.append(model)
        if not blocked:
            break
        pending = blocked
    else:
        raise AssertionError(f"rows added by the run could not be removed: {blocked}")
    _counts_rebuild()


def _counts_rebuild() -> None:
    from dossiers import density_counts, stats
    from payments.counts import payment_counts_rebuild

    stats.stats_rebuild()
    density_counts.density_rebuild()
    payment_counts_rebuild()


def dossiers_remove(dossiers, counters: list) -> None:
    """Removes committed `dossiers` (a queryset) with their attachments'
    files, puts the code counters back as they were (`counters`, read before)
    and recounts the indicators and density counts."""
    from dossiers.attachments import attachments_remove
    from dossiers.models import Attachment, CodeCounter

    attachments_remove(list(Attachment.objects.filter(dossier__in=dossiers).values_list("stored_name", flat=True)))
    dossiers.delete()
    CodeCounter.objects.all().delete()
    CodeCounter.objects.bulk_create(counters)
    _counts_rebuild()


@contextmanager
def committed_dossiers(django_db_blocker, *, email: str = "") -> Iterator[Committed]:
    """A citizen (with `email`) and a desk officer of CENTRE-MAIN, committed;
    `submit()` and `move()` commit too. All removed on exit."""
    from dossiers.models import CodeCounter, Dossier

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        counters = list(CodeCounter.objects.all())
        citizen = user_ensure(username=f"e2e-citizen-{suffix}", password=PASSWORD, role="citizen")
        citizen.email = email
        citizen.save(update_fields=["email"])
        Profile.objects.filter(user=citizen).update(id_number=CITIZEN_ID, full_name="Nguyễn Văn Thử")
        from layers.models import ServicePoint

        desk = user_ensure(
            username=f"e2e-desk-{suffix}",
            password=PASSWORD,
            role="desk_officer",
            agency=Agency.objects.get(code="ttpvhcc"),
            service_point=ServicePoint.objects.get(code="CENTRE-MAIN"),
        )
        citizen.refresh_from_db()
    made = Committed(citizen=citizen, desk=desk)
    try:
        yield made
    finally:
        with django_db_blocker.unblock():
            dossiers_remove(Dossier.objects.filter(pk__in=[d.pk for d in made.dossiers]), counters)
            citizen.delete()
            desk.delete()
