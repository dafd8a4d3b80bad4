"""The drills' reconciliation finds what it is there to find: faults planted
in the test database (a duplicate dossier, an accepted one that is missing,
one without its receive event, a lost attachment file, a stuck import job,
a counter off by one), and nothing when all is well."""

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone

from dossiers.attachments import attachment_path
from dossiers.models import DailyStat, DensityCount, Dossier
from gisportal.accounts.models import Role
from gisportal.accounts.services import user_ensure
from gisportal.operations.reconcile import counters_reconcile, dossiers_reconcile, import_jobs_reconcile
from gisportal.operations.tests.backup_source import PDF, online_submit
from layers.models import Feature, ImportJob, Layer

PREFIX = "drill:"


@pytest.fixture
def citizen(db):
    return user_ensure(username="drill-test-citizen", password="x-Strong-pass-1", role=Role.CITIZEN)


@pytest.fixture(autouse=True)
def private_files(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private"


def _submit(user, key: str, *, idempotent: bool = True) -> Dossier:
    return online_submit(
        user, key=key, files={f"{key}.pdf": PDF + key.encode()}, note=PREFIX + key, idempotent=idempotent
    )


def test_all_well_reports_nothing(citizen):
    accepted = {key: _submit(citizen, key).code for key in ("k1", "k2", "k3")}
    _submit(citizen, "other-1")  # another drill's: not this one's to count
    assert dossiers_reconcile(accepted=accepted, note_prefix=PREFIX, key_prefix="k") == {
        "accepted": 3,
        "found": 3,
        "missing": [],
        "code_mismatch": 0,
        "duplicates": 0,
        "unacknowledged": 0,
        "receive_event_not_one": 0,
        "attachment_files_missing": 0,
    }
    assert counters_reconcile() == {"dailystat": 0, "densitycount": 0, "densitydaycount": 0, "densityquartercount": 0}


def test_planted_dossier_faults_are_found(citizen):
    accepted = {key: _submit(citizen, key).code for key in ("k1", "k2", "k3", "k4")}
    _submit(citizen, "k2", idempotent=False)  # a retry that created a second dossier
    Dossier.objects.filter(note=PREFIX + "k3").delete()  # accepted, then lost
    Dossier.objects.get(note=PREFIX + "k4").events.all().delete()
    first = Dossier.objects.get(note=PREFIX + "k1")
    attachment_path(first.attachments.get().stored_name).unlink()
    _submit(citizen, "k5")  # created, but the client gave up before it saw the answer

    report = dossiers_reconcile(accepted=accepted, note_prefix=PREFIX)

    assert report["found"] == 3 and report["missing"] == ["k3"]
    assert report["duplicates"] == 1
    assert report["receive_event_not_one"] == 1
    assert report["attachment_files_missing"] == 1
    assert report["unacknowledged"] == 1
    assert report["code_mismatch"] == 0


def test_a_counter_off_by_one_is_found_and_the_check_changes_nothing(citizen):
    from dossiers.services import dossier_transition
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure
    from layers.models import ServicePoint

    dossier = _submit(citizen, "k1")
    # Issue #15: an online dossier is counted when the desk receives it.
    desk = user_ensure(
        username="reconcile_desk",
        password="x-Strong-pass-1",
        role="desk_officer",
        agency=Agency.objects.get(code="ttpvhcc"),
        service_point=ServicePoint.objects.get(code="CENTRE-MAIN"),
    )
    dossier_transition(code=dossier.code, action="receive", acting_user=desk)
    DailyStat.objects.filter(dimension="all").update(received=F("received") + 1)
    DensityCount.objects.filter(pk=DensityCount.objects.order_by("pk").values("pk")[:1]).delete()
    before = list(DailyStat.objects.order_by("pk").values_list("pk", "received"))

    assert counters_reconcile() == {"dailystat": 1, "densitycount": 1, "densitydaycount": 0, "densityquartercount": 0}
    assert list(DailyStat.objects.order_by("pk").values_list("pk", "received")) == before  # rolled back


def test_a_stuck_job_and_a_half_import_are_found(db):
    layer = Layer.objects.get(slug="hospitals")
    start = timezone.now() - dt.timedelta(seconds=1)
    baseline = import_jobs_reconcile(layer_slug=layer.slug)
    jobs = {
        status: ImportJob.objects.create(layer=layer, source_name="x.csv", stored_path="imports/x.csv", status=status)
        for status in ("succeeded", "failed", "running", "queued")
    }
    ImportJob.objects.filter(pk=jobs["succeeded"].pk).update(rows_imported=2)
    Feature.objects.create(layer=layer, geom="POINT(106.07 21.18)", properties={})  # only one of the two rows

    report = import_jobs_reconcile(layer_slug=layer.slug, created_from=start, job_ids=[jobs["queued"].pk, 99_999_999])

    assert report["by_status"] == {"succeeded": 1, "failed": 1, "running": 1, "queued": 1}
    assert report["stuck"] == 2
    assert report["accepted_missing"] == [99_999_999]
    assert report["features_minus_imported"] == baseline["features_minus_imported"] - 1
