"""The outbox rules (gisportal/outbox.py) on a real job model, ImportJob, in
the test's transaction: who may claim a job, what the reaper does with a job
whose worker stopped beating, and that a run given up on changes nothing.
The processes themselves (a killed worker, Redis down) are in
tests/test_faults_queue.py."""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from gisportal.outbox import outbox_claim, outbox_publish, outbox_reap, outbox_retry_later
from layers.models import Feature, FeatureChange, ImportJob
from layers.registries import importing
from layers.registries.importing import import_job_create, layer_import
from layers.tests.fixtures_registry import make_layer, sample_points, write_gpkg

pytestmark = pytest.mark.django_db

MAX = 3


@pytest.fixture
def job(tmp_path) -> ImportJob:
    """A queued job for an uploaded file (stored under MEDIA_ROOT/imports)."""
    layer = make_layer("outbox-layer")
    source = write_gpkg(sample_points(30, seed=5), tmp_path / "in.gpkg")
    upload = SimpleUploadedFile("in.gpkg", source.read_bytes())
    made = import_job_create(layer=layer, acting_user=None, source_name="in.gpkg", mode="replace", upload=upload)
    yield made
    (Path(settings.MEDIA_ROOT) / made.stored_path).unlink(missing_ok=True)
    for report in (Path(settings.MEDIA_ROOT) / "imports").glob(f"job-{made.pk}-*"):
        report.unlink()


def silent_since(job: ImportJob, seconds: float) -> None:
    """The state a dead worker leaves: running, its last heartbeat `seconds` ago."""
    beat = timezone.now() - dt.timedelta(seconds=seconds)
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=beat)


@override_settings(OUTBOX_MAX_ATTEMPTS=MAX, OUTBOX_STALE_AFTER_S=60)
def test_a_job_is_claimed_once_and_again_only_when_its_worker_stopped_beating(job):
    first = outbox_claim(ImportJob, job.pk)
    assert (first.status, first.attempts) == ("running", 1) and first.heartbeat_at is not None
    # A duplicate, or the late-acknowledged message redelivered while the
    # worker lives: nothing to claim.
    assert outbox_claim(ImportJob, job.pk) is None

    silent_since(job, 61)  # the worker died: its redelivered message may start it again
    second = outbox_claim(ImportJob, job.pk)
    assert (second.status, second.attempts) == ("running", 2)

    ImportJob.objects.filter(pk=job.pk).update(attempts=MAX)
    silent_since(job, 61)
    assert outbox_claim(ImportJob, job.pk) is None  # out of attempts: the reaper fails it

    ImportJob.objects.filter(pk=job.pk).update(status="succeeded")
    assert outbox_claim(ImportJob, job.pk) is None


@override_settings(OUTBOX_MAX_ATTEMPTS=MAX, OUTBOX_STALE_AFTER_S=60)
def test_the_reaper_requeues_a_silent_job_and_leaves_a_beating_one(job, django_capture_on_commit_callbacks):
    outbox_claim(ImportJob, job.pk)
    silent_since(job, 30)
    with django_capture_on_commit_callbacks() as sent:
        assert outbox_reap() == {"requeued": 0, "failed": 0}
    assert ImportJob.objects.get(pk=job.pk).status == "running" and sent == []

    silent_since(job, 61)
    before = timezone.now()
    with django_capture_on_commit_callbacks() as sent:
        assert outbox_reap() == {"requeued": 1, "failed": 0}
    requeued = ImportJob.objects.get(pk=job.pk)
    assert (requeued.status, requeued.attempts, requeued.published_at) == ("queued", 1, None)
    assert requeued.queued_at >= before
    assert len(sent) == 1  # its task is published once this commits
    assert (Path(settings.MEDIA_ROOT) / job.stored_path).is_file(), "the upload waits for the next attempt"


@override_settings(OUTBOX_MAX_ATTEMPTS=MAX, OUTBOX_STALE_AFTER_S=60)
def test_the_reaper_fails_a_job_after_its_last_attempt_and_removes_its_files(job, django_capture_on_commit_callbacks):
    partial = Path(settings.MEDIA_ROOT) / "imports" / f"job-{job.pk}-0123456789ab-errors.csv"
    partial.write_text("row,outcome\n")  # left by the interrupted attempt
    ImportJob.objects.filter(pk=job.pk).update(attempts=MAX)
    silent_since(job, 61)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_reap() == {"requeued": 0, "failed": 1}
    failed = ImportJob.objects.get(pk=job.pk)
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.message == (
        "Tiến trình xử lý công việc này đã dừng đột ngột (lần 3/3); công việc bị hủy. "
        "Lớp dữ liệu không thay đổi; hãy tải tệp lên lại. / "
        "The worker running this job stopped unexpectedly (attempt 3 of 3); the job was abandoned. "
        "The layer is unchanged; upload the file again."
    )
    assert not (Path(settings.MEDIA_ROOT) / job.stored_path).exists()
    assert not partial.exists()


def test_a_run_given_up_on_mid_import_changes_nothing(job, monkeypatch):
    """The first worker was taken for dead while it staged (its job requeued
    and claimed by another worker): it reaches the swap and must not swap,
    nor write over the other run's progress, nor remove the upload."""
    monkeypatch.setattr(importing, "BATCH_SIZE", 10)
    layer = job.layer
    mine = outbox_claim(ImportJob, job.pk)

    def taken_over(done: int, total: int | None) -> None:
        if done == 10:  # after the first batch: requeued and claimed again elsewhere
            ImportJob.objects.filter(pk=job.pk).update(status="queued")
            outbox_claim(ImportJob, job.pk)

    layer_import(job=mine, progress=taken_over)

    other = ImportJob.objects.get(pk=job.pk)
    # Its progress stopped at the takeover (10 of 30 rows), its end was not written.
    assert (other.status, other.attempts, other.rows_done, other.message) == ("running", 2, 10, "")
    assert Feature.objects.filter(layer=layer).count() == 0
    assert not FeatureChange.objects.filter(layer=layer, action="import").exists()
    assert (Path(settings.MEDIA_ROOT) / job.stored_path).is_file()
    assert not list((Path(settings.MEDIA_ROOT) / "imports").glob(f"job-{job.pk}-*"))


def test_a_job_run_and_put_back_before_its_publish_returns_waits_for_the_sweep(job, monkeypatch):
    """A fast worker takes the message, fails for a passing reason and puts
    the job back for later, all before the publisher records the send: that
    record must not mark the new entry published, or the sweep would leave
    it alone for OUTBOX_REPUBLISH_AFTER_S."""
    from gisportal.celery import app

    def fast_worker(name, args, **kwargs):
        outbox_retry_later(outbox_claim(ImportJob, args[0]), delay_s=1)

    monkeypatch.setattr(app, "send_task", fast_worker)
    assert outbox_publish(ImportJob, job.pk) is True
    row = ImportJob.objects.get(pk=job.pk)
    assert (row.status, row.published_at) == ("queued", None)
    assert row.queued_at > timezone.now()  # not before its time; then the sweep publishes it
