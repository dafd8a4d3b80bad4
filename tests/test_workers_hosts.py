"""Workers on other hosts, end to end: Celery workers started as processes of
their own (their own working directory, media and temporary folders; only
the broker, the database and the object store in common), on a private
redis-server, with the files in an S3 bucket (moto's server).

- Two workers on the same queues (started without -Q, as on one machine);
  the one running an import is SIGKILLed, and the import finishes on the
  other: its beat's outbox sweep returns the silent job to the queue
  (gisportal/outbox.py). The dead worker's unacknowledged message, which
  Redis redelivers after CELERY_VISIBILITY_TIMEOUT_S, finds nothing to
  claim: the job started twice, finished once, and every row is there once.
- Queues by kind: with one worker per queue, an SMS sent while a long
  import runs is delivered before the import ends.

An import is held in the middle of its work by holding its layer's row lock
(it stages every row, then waits at its swap), as in tests/test_faults_queue.py."""

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis
import shapely

from gisportal.accounts.models import SandboxSms, SmsMessage
from gisportal.celery import app
from layers.models import Feature, FeatureChange, ImportJob, Layer
from layers.tests.fixtures_registry import append_bad_csv_rows, assert_same_features, sample_points, write_csv
from tests.live import celery_worker, process_env, wait_for
from tests.objectstore import Bucket, local_files, moto_bucket, other_host
from tests.processes import kill_group
from tests.test_faults_queue import committed_layer, layer_locked, waiting_on_a_lock

pytestmark = pytest.mark.django_db

IMPORT_TASK = "layers.tasks.import_layer_task"
GOOD_ROWS, BAD_ROWS = 300, 30


def send(broker_url: str, task: str, pk: int) -> None:
    """Publish `task` for row `pk` to the private broker, on its routed queue."""
    with app.connection_for_write(url=broker_url) as connection:
        app.send_task(task, args=[pk], connection=connection)


@contextmanager
def uploaded_import(django_db_blocker, bucket: Bucket, folder: Path) -> Iterator[tuple[Layer, ImportJob, object]]:
    """A layer with 40 features and a committed, queued job whose upload (a CSV
    of 300 good rows and 30 bad ones) is in the bucket, where the web server
    stored it (tests/test_storage_s3.py uploads through the web)."""
    sample = sample_points(GOOD_ROWS, seed=21)
    path = append_bad_csv_rows(write_csv(sample, folder / "tram-y-te.csv"), BAD_ROWS)
    stored = f"imports/{uuid.uuid4().hex}.csv"
    bucket.put(f"media/{stored}", path.read_bytes())
    with committed_layer(django_db_blocker, initial=40) as layer:
        with django_db_blocker.unblock():
            job = ImportJob.objects.create(layer=layer, source_name=path.name, stored_path=stored, mode="replace")
        yield layer, job, sample


@pytest.fixture(scope="module")
def s3_bucket() -> Iterator[Bucket]:
    with moto_bucket() as bucket:
        yield bucket


@pytest.fixture(scope="module")
def kill_case(django_db_setup, django_db_blocker, s3_bucket, tmp_path_factory):
    with uploaded_import(django_db_blocker, s3_bucket, tmp_path_factory.mktemp("kill")) as case:
        yield case


@pytest.fixture(scope="module")
def queues_case(django_db_setup, django_db_blocker, s3_bucket, tmp_path_factory):
    """An import and an SMS waiting to be sent (the sandbox backend)."""
    with uploaded_import(django_db_blocker, s3_bucket, tmp_path_factory.mktemp("queues")) as case:
        with django_db_blocker.unblock():
            sms = SmsMessage.objects.create(
                phone="0912000111", body="Mã xác nhận: {code}", secret="424242", kind="test"
            )
        try:
            yield (*case, sms)
        finally:
            with django_db_blocker.unblock():
                SandboxSms.objects.filter(phone="0912000111").delete()
                SmsMessage.objects.filter(pk=sms.pk).delete()


@pytest.fixture
def hosts_env(django_db_blocker, private_redis, s3_bucket) -> dict[str, str]:
    """What every host shares: the broker, the database, the object store.
    Unacknowledged messages come back after 4 s, looked for every second."""
    return process_env(
        django_db_blocker,
        REDIS_URL=private_redis.url(),
        CELERY_VISIBILITY_TIMEOUT_S="4",
        CELERY_UNACKED_RESTORE_INTERVAL_S="1",
        **s3_bucket.env(),
    )


def staged_and_waiting(job: ImportJob):
    """The job, once its worker has staged every row and waits at the swap."""

    def check() -> ImportJob | None:
        current = ImportJob.objects.get(pk=job.pk)
        staged = current.status == "running" and current.rows_total and current.rows_done == current.rows_total
        return current if staged and waiting_on_a_lock() else None

    return check


def received(log: Path, task: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if f"Task {task}[" in line and "received" in line)


def test_a_worker_killed_mid_import_on_one_host_and_the_import_finishes_on_another(
    kill_case, private_redis, s3_bucket, hosts_env, tmp_path
):
    layer, job, sample = kill_case
    home_a, env_a = other_host(tmp_path, "host-a")
    home_b, env_b = other_host(tmp_path, "host-b")
    with ExitStack() as stack:
        with layer_locked(layer):
            worker_a = stack.enter_context(celery_worker({**hosts_env, **env_a}, home_a, cwd=home_a))
            send(private_redis.url(), IMPORT_TASK, job.pk)
            running = wait_for("host A to stage the import", staged_and_waiting(job), logs=(worker_a.log_path,))
            assert running.attempts == 1
            # Host B (with the beat that sends the outbox sweep) joins, on the same queues.
            worker_b = stack.enter_context(celery_worker({**hosts_env, **env_b}, home_b, cwd=home_b, beat=True))
            kill_group(worker_a)  # the machine dies in the middle of the import
            killed_at = time.monotonic()
        done = wait_for(
            "the import to finish on host B",
            lambda: ImportJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
            logs=(worker_b.log_path,),
        )
        recovered_s = time.monotonic() - killed_at
        assert done.status == "succeeded", done.message
        assert (done.attempts, done.rows_imported, done.rows_rejected) == (2, GOOD_ROWS, BAD_ROWS)
        # Either the sweep returned the silent job to the queue ("queued
        # again") or Redis handed A's message to B once A's heartbeat was
        # stale; either way the job started twice, and finished once.

        # The message host A held comes back from Redis (after the visibility
        # timeout), is taken by B, and changes nothing.
        broker = redis.Redis.from_url(private_redis.url())
        wait_for(
            "the dead worker's message to be redelivered and acknowledged",
            lambda: broker.hlen("unacked") == 0 and broker.llen("imports") == 0,
            logs=(worker_b.log_path,),
        )
        assert received(worker_b.log_path, IMPORT_TASK) >= 1
        time.sleep(0.5)  # its (empty) run ends
        rows = list(Feature.objects.filter(layer=layer).values_list("geom", "properties"))
        assert_same_features(sample, [shapely.from_wkt(g.wkt) for g, _ in rows], [p for _, p in rows])
        assert FeatureChange.objects.filter(layer=layer, action="import").count() == 2  # the initial one and this
        assert ImportJob.objects.get(pk=job.pk).attempts == 2

        # The upload is gone from the bucket, the error report is there; no
        # host kept a file of its own: host B removed the temporary copy GDAL
        # read (the dead host's copy stays in its temporary folder).
        assert s3_bucket.keys(f"media/{job.stored_path}") == []
        report = s3_bucket.read(f"media/{done.error_report_path}").decode("utf-8-sig")
        assert len(report.splitlines()) == 1 + BAD_ROWS
        assert local_files(home_b) == [] and local_files(home_a, folders=("media", "private")) == []
        s3_bucket.client().delete_object(Bucket=s3_bucket.name, Key=f"media/{done.error_report_path}")
    print(f"\nkilled host: import finished on the other host {recovered_s:.1f} s after the kill")


def test_a_notification_is_not_delayed_by_a_long_import_on_its_own_queue(
    queues_case, private_redis, s3_bucket, hosts_env, tmp_path
):
    layer, job, _, sms = queues_case
    home_i, env_i = other_host(tmp_path, "imports-host")
    home_n, env_n = other_host(tmp_path, "notifications-host")
    with (
        celery_worker({**hosts_env, **env_i}, home_i, queues="imports", cwd=home_i) as importer,
        celery_worker({**hosts_env, **env_n}, home_n, queues="notifications", cwd=home_n) as notifier,
    ):
        with layer_locked(layer):
            send(private_redis.url(), IMPORT_TASK, job.pk)
            wait_for("the import to be under way", staged_and_waiting(job), logs=(importer.log_path,))
            sent_at = time.monotonic()
            send(private_redis.url(), "gisportal.accounts.tasks.sms_send_task", sms.pk)
            delivered = wait_for(
                "the SMS to be sent while the import runs",
                lambda: SmsMessage.objects.filter(pk=sms.pk, status="sent").first(),
                logs=(notifier.log_path,),
            )
            latency_s = time.monotonic() - sent_at
            assert ImportJob.objects.get(pk=job.pk).status == "running", "the import is still under way"
        done = wait_for(
            "the import to finish",
            lambda: ImportJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
            logs=(importer.log_path,),
        )
    assert done.status == "succeeded" and done.finished_at > delivered.sent_at, done.message
    assert received(importer.log_path, "gisportal.accounts.tasks.sms_send_task") == 0
    assert received(notifier.log_path, IMPORT_TASK) == 0
    assert SandboxSms.objects.filter(phone="0912000111", text__contains="424242").exists()
    s3_bucket.client().delete_object(Bucket=s3_bucket.name, Key=f"media/{done.error_report_path}")
    print(f"\nSMS delivered {latency_s:.2f} s after it was sent, while the import was running")
