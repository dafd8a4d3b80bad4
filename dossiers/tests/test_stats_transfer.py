"""A transfer moves neither count: receipts stay with the agency that had the
dossier at receipt, finishes go to the agency that finished it, and a full
rebuild from the dossier table gives exactly the rows counted live."""

import pytest
from django.utils import timezone

from dossiers import stats
from dossiers.models import DailyStat
from dossiers.services import dossier_transition
from gisportal.accounts.models import Agency

from .conftest import TRANSFER_AGENCY


def _table() -> set[tuple]:
    return set(
        DailyStat.objects.values_list(
            "day",
            "dimension",
            "key",
            "received",
            "online",
            "finished",
            "early",
            "on_time",
            "late",
            "processing_days_sum",
        )
    )


@pytest.mark.django_db
def test_transfer_keeps_receipt_with_the_first_agency_and_rebuild_agrees(submit, drive, people, catalogue):
    dossier = drive(submit(), "transferred")
    first, second = catalogue.main.agency, Agency.objects.get(code=TRANSFER_AGENCY)
    assert dossier.agency == second and dossier.receiving_agency == first
    for action, user in (
        ("start", people.processor_other),
        ("approve", people.leader_other),
        ("mark_result_ready", people.processor_other),
    ):
        dossier_transition(code=dossier.code, action=action, acting_user=user)
    today = timezone.localdate()
    rows = {
        key: (received, finished)
        for key, received, finished in DailyStat.objects.filter(dimension="agency", day=today).values_list(
            "key", "received", "finished"
        )
    }
    assert rows[first.pk] == (1, 0)
    assert rows[second.pk] == (0, 1)
    live = _table()
    stats.stats_rebuild()
    assert _table() == live
