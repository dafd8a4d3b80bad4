"""The real queue: an upload job sent through Redis to a Celery worker
process, which imports into the pytest database while the test polls the job.

The rows are committed by module-scoped fixtures, which run before the test's
own transaction opens (the worker is another process and cannot see inside
it), and are removed again at the end: no transactional test, whose flush
would wipe the session's demo data. The test itself polls in READ COMMITTED,
so it sees the worker's commits."""

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import shapely
from django.conf import settings
from django.db import connection

from layers.models import Feature, FeatureChange, ImportJob
from layers.registries.importing import import_job_create
from layers.tasks import import_layer_task
from layers.tests.fixtures_registry import assert_same_features, make_layer, sample_points, write_gpkg
from tests.processes import celery_worker_command, stop

TIMEOUT_S = 60


@pytest.fixture(scope="module")
def committed_job(django_db_setup, django_db_blocker, tmp_path_factory):
    sample = sample_points(200, seed=4)
    path = write_gpkg(sample, tmp_path_factory.mktemp("queue") / "queued.gpkg")
    with django_db_blocker.unblock():
        layer = make_layer(f"imp-queue-{uuid.uuid4().hex[:8]}")
        job = import_job_create(
            layer=layer, acting_user=None, source_name=path.name, mode="replace", path=path, enqueue=False
        )
        database = connection.settings_dict["NAME"]
    try:
        yield job, sample, database
    finally:
        with django_db_blocker.unblock():
            report = ImportJob.objects.filter(pk=job.pk).values_list("error_report_path", flat=True).first()
            if report:
                (Path(settings.MEDIA_ROOT) / report).unlink(missing_ok=True)
            layer.delete()  # cascades to its features, changes and jobs


@pytest.fixture(scope="module")
def worker(committed_job):
    """A Celery worker on a queue of its own, so no other worker (a developer's,
    another test run's) takes the message."""
    _, _, database = committed_job
    queue = f"imp-test-{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gisportal.settings.test",
        "DATABASE_URL": f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{database}",
    }
    process = subprocess.Popen(
        celery_worker_command(loglevel="WARNING", queue=queue),
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield queue, process
    finally:
        stop(process)


@pytest.mark.django_db
def test_upload_job_runs_in_a_celery_worker(committed_job, worker):
    job, sample, _ = committed_job
    queue, process = worker
    import_layer_task.apply_async(args=[job.pk], queue=queue)

    deadline = time.monotonic() + TIMEOUT_S
    current = ImportJob.objects.get(pk=job.pk)
    while current.status not in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED):
        if time.monotonic() > deadline:
            process.terminate()
            pytest.fail(f"job still {current.status} after {TIMEOUT_S} s: {process.stdout.read().decode()[-2000:]}")
        assert process.poll() is None, process.stdout.read().decode(errors="replace")
        time.sleep(0.2)
        current = ImportJob.objects.get(pk=job.pk)

    assert current.status == ImportJob.Status.SUCCEEDED, current.message
    assert (current.rows_total, current.rows_done, current.rows_imported) == (200, 200, 200)
    assert current.started_at and current.finished_at
    rows = list(Feature.objects.filter(layer_id=job.layer_id).values_list("geom", "properties"))
    assert_same_features(sample, [shapely.from_wkt(g.wkt) for g, _ in rows], [p for _, p in rows])
    assert FeatureChange.objects.filter(layer_id=job.layer_id, action="import").count() == 1

    # Delivered again (acks_late redelivery, a retry): the job is no longer
    # queued, so the worker leaves it alone.
    import_layer_task.apply_async(args=[job.pk], queue=queue)
    time.sleep(1.0)
    assert FeatureChange.objects.filter(layer_id=job.layer_id, action="import").count() == 1
    assert Feature.objects.filter(layer_id=job.layer_id).count() == 200
