"""Faults of the queue, end to end: the project's own server and real Celery
workers (with beat, which sends the outbox sweep) on the test database.

- Redis down: an upload is accepted (202, "queued, waiting for the worker")
  and starts by itself once Redis is back (a private redis-server the test
  stops and starts; never the shared one).
- A worker SIGKILLed in the middle of an import: the sweep returns the job to
  the queue and a restarted worker finishes it; or, with one attempt allowed,
  fails it with a clear message, the layer unchanged and its files removed.

The rows are committed by module-scoped fixtures, which run before a test's
own transaction opens (the workers are other processes), and are removed at
the end; the tests poll in READ COMMITTED, so they see the workers' commits."""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import shapely
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from gisportal.accounts.models import Agency
from gisportal.accounts.services import user_ensure
from layers.models import Feature, FeatureChange, ImportJob, Layer
from layers.registries.importing import import_job_create, layer_import
from layers.tests.fixtures_registry import (
    append_bad_csv_rows,
    assert_same_features,
    make_layer,
    sample_points,
    write_csv,
    write_gpkg,
)
from tests.browser import session_delete, session_key_for
from tests.live import celery_worker, own_connection, process_env, purge_broker, runserver, wait_for
from tests.processes import kill_group

pytestmark = pytest.mark.django_db

WAITING_EN = "Queued, waiting for the worker"
WAITING_VI = "Đang xếp hàng, chờ tiến trình xử lý"


def job_files(job: ImportJob) -> list[Path]:
    """The job's files on disk: its upload and every error report it wrote."""
    imports = Path(settings.MEDIA_ROOT) / "imports"
    upload = Path(settings.MEDIA_ROOT) / job.stored_path
    return [path for path in [upload, *imports.glob(f"job-{job.pk}-*-errors.csv")] if path.exists()]


@contextmanager
def committed_layer(django_db_blocker, *, initial: int = 0) -> Iterator[Layer]:
    """A layer of the health department with `initial` features, committed;
    removed afterwards with its jobs and their files."""
    with django_db_blocker.unblock():
        layer = make_layer(f"faults-{uuid.uuid4().hex[:8]}")
        if initial:
            folder = Path(settings.MEDIA_ROOT) / "test-faults"
            folder.mkdir(parents=True, exist_ok=True)
            path = write_gpkg(sample_points(initial, seed=7), folder / f"{layer.slug}.gpkg")
            job = import_job_create(layer=layer, acting_user=None, source_name=path.name, mode="replace", path=path)
            assert layer_import(job=job).status == ImportJob.Status.SUCCEEDED, job.message
            path.unlink()
    try:
        yield layer
    finally:
        with django_db_blocker.unblock():
            for job in ImportJob.objects.filter(layer=layer):
                for path in job_files(job):
                    path.unlink()
            layer.delete()


# --- Redis down ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def editor_session(django_db_setup, django_db_blocker) -> Iterator[tuple[Layer, str]]:
    """A layer and a signed-in official of its department (session key)."""
    with committed_layer(django_db_blocker) as layer:
        with django_db_blocker.unblock():
            user = user_ensure(
                username=f"faults-yte-{uuid.uuid4().hex[:8]}",
                password="x-Strong-pass-1",
                role="processing_officer",
                agency=Agency.objects.get(code="so-y-te"),
            )
            session_key = session_key_for(user)
        try:
            yield layer, session_key
        finally:
            with django_db_blocker.unblock():
                session_delete(session_key)
                user.delete()


def signed_in(base_url: str, session_key: str, *, page: str = "/registries/upload/") -> requests.Session:
    """An HTTP session with the portal's session cookie and a CSRF token
    (from `page`, a form the user may open)."""
    http = requests.Session()
    http.cookies.set(settings.SESSION_COOKIE_NAME, session_key)
    page = http.get(f"{base_url}{page}", timeout=10)
    assert page.status_code == 200, page.text[:500]
    http.headers["X-CSRFToken"] = http.cookies[settings.CSRF_COOKIE_NAME]
    return http


def test_an_upload_while_redis_is_down_waits_and_starts_when_redis_is_back(
    editor_session, private_redis, django_db_blocker, tmp_path
):
    layer, session_key = editor_session
    env = process_env(django_db_blocker, REDIS_URL=private_redis.url())
    sample = sample_points(120, seed=11)
    upload = write_gpkg(sample, tmp_path / "tram-y-te.gpkg")
    with runserver(env, tmp_path) as base_url, celery_worker(env, tmp_path, beat=True) as worker:
        http = signed_in(base_url, session_key)
        private_redis.stop()

        started = time.monotonic()
        with upload.open("rb") as handle:
            answer = http.post(
                f"{base_url}/api/v1/layers/{layer.slug}/imports/", files={"file": handle}, data={"mode": "replace"}
            )
        took_s = time.monotonic() - started
        assert answer.status_code == 202, answer.text[:2000]
        body = answer.json()
        assert body["status"] == "queued" and body["published"] is False, body
        assert WAITING_EN in body["state_message"] and WAITING_VI in body["state_message"], body
        assert took_s < 1, f"the upload took {took_s:.1f} s with Redis down"
        job = ImportJob.objects.get(pk=body["id"])
        assert (job.status, job.published_at) == (ImportJob.Status.QUEUED, None)
        assert job_files(job), "the upload must wait on disk for the worker"

        # Still waiting, and saying so.
        waiting = http.get(body["links"]["self"], timeout=10).json()
        assert waiting["status"] == "queued" and WAITING_EN in waiting["state_message"], waiting

        private_redis.start()  # same port; empty, as after a restart without persistence

        def finished() -> dict | None:
            state = http.get(body["links"]["self"], timeout=10).json()
            return state if state["status"] in ("succeeded", "failed") else None

        done = wait_for("the job to finish once Redis is back", finished, logs=(worker.log_path,))
        assert done["status"] == "succeeded", done
        assert done["published"] is True and done["attempts"] == 1, done
        assert worker.poll() is None, worker.log_path.read_text()[-3000:]
    rows = list(Feature.objects.filter(layer=layer).values_list("geom", "properties"))
    assert_same_features(sample, [shapely.from_wkt(g.wkt) for g, _ in rows], [p for _, p in rows])
    assert job_files(ImportJob.objects.get(pk=body["id"])) == []
    assert "task queue is unreachable" in (tmp_path / "server.log").read_text()


# --- Worker death -------------------------------------------------------------------


@pytest.fixture
def broker_env(django_db_blocker, private_broker_url) -> dict[str, str]:
    env = process_env(django_db_blocker, REDIS_URL=private_broker_url)
    purge_broker(env)
    return env


@contextmanager
def queued_upload(django_db_blocker, tmp_path: Path) -> Iterator[tuple[Layer, ImportJob, object]]:
    """A layer with 40 features and a job for an uploaded CSV of 300 good rows
    and 30 bad ones (so an error report is written while it stages),
    committed but not sent: the workers' sweep publishes it, as it does a job
    the broker missed."""
    sample = sample_points(300, seed=12)
    path = append_bad_csv_rows(write_csv(sample, tmp_path / "tram-y-te.csv"), 30)
    with committed_layer(django_db_blocker, initial=40) as layer:
        with django_db_blocker.unblock():
            job = import_job_create(
                layer=layer,
                acting_user=None,
                source_name=path.name,
                mode="replace",
                upload=SimpleUploadedFile(path.name, path.read_bytes()),
                enqueue=False,
            )
        yield layer, job, sample


@pytest.fixture(scope="module")
def restart_case(django_db_setup, django_db_blocker, tmp_path_factory):
    with queued_upload(django_db_blocker, tmp_path_factory.mktemp("restart")) as case:
        yield case


@pytest.fixture(scope="module")
def give_up_case(django_db_setup, django_db_blocker, tmp_path_factory):
    with queued_upload(django_db_blocker, tmp_path_factory.mktemp("give-up")) as case:
        yield case


@contextmanager
def layer_locked(layer: Layer) -> Iterator[None]:
    """Holds the layer's row lock in a connection of its own: an import stages
    every row, then waits at its swap, in the middle of its work."""
    with own_connection() as holder:
        holder.execute("SELECT id FROM layers_layer WHERE id = %s FOR UPDATE", [layer.pk])
        yield
        holder.rollback()


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def kill_in_the_middle(env: dict[str, str], log_dir: Path, layer: Layer, job: ImportJob) -> None:
    """A worker (with beat) takes the job, stages every row and waits at the
    swap; it beats while it waits; then it is SIGKILLed with its beat."""
    with layer_locked(layer), celery_worker(env, log_dir, beat=True) as worker:

        def staged_and_waiting() -> ImportJob | None:
            current = ImportJob.objects.get(pk=job.pk)
            staged = current.status == "running" and current.rows_total and current.rows_done == current.rows_total
            return current if staged and waiting_on_a_lock() else None

        running = wait_for("the worker to stage the import", staged_and_waiting, logs=(worker.log_path,))
        assert running.attempts == 1 and running.published_at is not None
        assert any("errors.csv" in path.name for path in job_files(job)), "a partial error report"
        beat = running.heartbeat_at
        wait_for("a heartbeat while it waits", lambda: ImportJob.objects.get(pk=job.pk).heartbeat_at > beat)
        kill_group(worker)
    # The orphaned database session got the lock once it was released, and
    # died with its transaction: nothing of the killed run was committed.
    wait_for("the killed worker's session to end", lambda: waiting_on_a_lock() == 0)
    stuck = ImportJob.objects.get(pk=job.pk)
    assert stuck.status == "running", "left running by the dead worker"


def committed_feature_ids(layer: Layer) -> list[int]:
    """Read outside the test's transaction: a read inside it would hold a lock
    on layers_feature until the test ends, which the restarted import's swap
    (it detaches the layer's partition) would wait for."""
    with own_connection(autocommit=True) as own:
        rows = own.execute("SELECT id FROM layers_feature WHERE layer_id = %s ORDER BY id", [layer.pk]).fetchall()
    return [pk for (pk,) in rows]


def test_a_worker_killed_mid_import_is_reaped_and_a_restarted_worker_finishes(restart_case, broker_env, tmp_path):
    layer, job, sample = restart_case
    before = committed_feature_ids(layer)
    (tmp_path / "killed").mkdir()
    kill_in_the_middle(broker_env, tmp_path / "killed", layer, job)
    assert committed_feature_ids(layer) == before

    with celery_worker(broker_env, tmp_path, beat=True) as worker:
        done = wait_for(
            "the reaped job to finish on the restarted worker",
            lambda: ImportJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
            logs=(worker.log_path,),
        )
    assert done.status == "succeeded", done.message
    assert (done.attempts, done.rows_imported, done.rows_rejected) == (2, 300, 30)
    rows = list(Feature.objects.filter(layer=layer).values_list("geom", "properties"))
    assert_same_features(sample, [shapely.from_wkt(g.wkt) for g, _ in rows], [p for _, p in rows])
    assert FeatureChange.objects.filter(layer=layer, action="import").count() == 2  # the initial one and this
    # The upload is gone; the one error report left is the finished run's.
    assert job_files(done) == [Path(settings.MEDIA_ROOT) / done.error_report_path]
    assert "stopped beating during attempt 1; queued again" in worker.log_path.read_text()


def test_a_job_whose_worker_dies_on_every_attempt_fails_with_the_layer_unchanged(give_up_case, broker_env, tmp_path):
    layer, job, _ = give_up_case
    before = sorted(Feature.objects.filter(layer=layer).values_list("pk", "geom", "properties"))
    version = Layer.objects.get(pk=layer.pk).version
    (tmp_path / "killed").mkdir()
    kill_in_the_middle(broker_env, tmp_path / "killed", layer, job)

    with celery_worker({**broker_env, "OUTBOX_MAX_ATTEMPTS": "1"}, tmp_path, beat=True) as worker:
        failed = wait_for(
            "the sweep to fail the job",
            lambda: ImportJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
            logs=(worker.log_path,),
        )
        # The files go once the failure is committed.
        wait_for("the job's files to be removed", lambda: job_files(failed) == [])
    assert failed.status == "failed"
    assert "The worker running this job stopped unexpectedly (attempt 1 of 1)" in failed.message
    assert "Tiến trình xử lý công việc này đã dừng đột ngột (lần 1/1)" in failed.message
    assert "The layer is unchanged" in failed.message
    assert failed.finished_at is not None and failed.error_report_path == ""
    assert sorted(Feature.objects.filter(layer=layer).values_list("pk", "geom", "properties")) == before
    assert Layer.objects.get(pk=layer.pk).version == version
