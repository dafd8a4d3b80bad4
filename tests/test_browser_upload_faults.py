"""The upload page when the queue fails, in a real browser (Debian's chromium
through Playwright) against the project's own server, whose Redis does not
listen: the upload is accepted and the page says "queued, waiting for the
worker"; when the job's worker then dies on its last attempt, the outbox
sweep fails the job, and the page shows why and stops polling.

(The worker deaths here are the state a killed worker leaves, written to the
job row; real workers are killed in tests/test_faults_queue.py.)"""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Browser, expect

from gisportal.outbox import outbox_reap
from layers.models import ImportJob
from tests.browser import chromium, in_database, new_page, registry_editor
from tests.live import process_env, runserver
from tests.processes import free_port

pytestmark = pytest.mark.browser

SCHEMA = [{"name": "name", "type": "string", "title": "Tên / Name"}]
WAITING_VI = "Đang xếp hàng, chờ tiến trình xử lý: hàng đợi tác vụ tạm thời không kết nối được"

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def editor(django_db_setup, django_db_blocker) -> Iterator[dict]:
    with registry_editor(django_db_blocker, title="Trạm y tế (sự cố) / Clinics (faults)", schema=SCHEMA) as made:
        yield made


@pytest.fixture(scope="module")
def server_without_redis(editor, django_db_blocker, tmp_path_factory) -> Iterator[str]:
    env = process_env(django_db_blocker, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    with runserver(env, tmp_path_factory.mktemp("server_without_redis")) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser(server_without_redis) -> Iterator[Browser]:
    # After the database fixtures: while Playwright runs, Django refuses
    # database access in this thread.
    yield from chromium()


@pytest.mark.django_db
def test_the_job_api_says_queued_waiting_for_the_worker_until_published(editor, client_as):
    # Runs first, before the browser starts; being a database test, it also
    # makes pytest-django create the test database when this module runs alone.
    job = ImportJob.objects.create(layer=editor["layer"], user=editor["user"], source_name="x.csv", stored_path="-")
    body = client_as(editor["user"]).get(f"/api/v1/imports/{job.pk}/").json()
    assert (body["status"], body["published"], body["attempts"]) == ("queued", False, 0)
    assert body["state_message"].startswith(WAITING_VI)
    assert "/ Queued, waiting for the worker: the task queue cannot be reached right now" in body["state_message"]

    ImportJob.objects.filter(pk=job.pk).update(published_at=timezone.now())
    body = client_as(editor["user"]).get(f"/api/v1/imports/{job.pk}/").json()
    assert body["published"] is True
    assert body["state_message"] == "Đang xếp hàng, chờ tiến trình xử lý. / Queued, waiting for the worker."

    ImportJob.objects.filter(pk=job.pk).update(attempts=1)  # requeued after its worker died
    body = client_as(editor["user"]).get(f"/api/v1/imports/{job.pk}/").json()
    assert (body["attempts"], body["max_attempts"]) == (1, settings.OUTBOX_MAX_ATTEMPTS)
    assert (
        f"the last run was interrupted; it will run again (attempt 2 of {settings.OUTBOX_MAX_ATTEMPTS})"
        in (body["state_message"])
    )


def test_the_page_waits_for_the_queue_then_shows_the_failure_and_stops_polling(
    editor, browser, server_without_redis, django_db_blocker, tmp_path
):
    base_url = server_without_redis
    layer = editor["layer"]
    path = tmp_path / "tram-y-te.geojson"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.07, 21.18]}, "properties": {}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    page, errors = new_page(browser, base_url, session_key=editor["session"])
    job_requests: list[float] = []

    page.goto(f"{base_url}/registries/upload/")
    page.select_option("#layer-select", layer.slug)
    page.set_input_files("#file-input", str(path))
    with page.expect_response(lambda r: r.request.method == "POST" and "/imports/" in r.url) as posted:
        page.locator("#upload-button").click()
    assert posted.value.status == 202, posted.value.text()
    job_id = posted.value.json()["id"]
    page.on("request", lambda r: f"/api/v1/imports/{job_id}/" in r.url and job_requests.append(r.timing["startTime"]))

    expect(page.locator("#import-status")).to_contain_text(WAITING_VI)
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "queued")
    expect(page.locator("#import-error")).to_be_hidden()

    # The queue came back, the job was sent, and its worker died on each of
    # its attempts: a running job nobody stamps any more.
    def died_on_its_last_attempt() -> dict[str, int]:
        long_ago = timezone.now() - dt.timedelta(hours=1)
        ImportJob.objects.filter(pk=job_id).update(
            status="running",
            attempts=settings.OUTBOX_MAX_ATTEMPTS,
            published_at=long_ago,
            started_at=long_ago,
            heartbeat_at=long_ago,
        )
        return outbox_reap()

    assert in_database(django_db_blocker, died_on_its_last_attempt) == {"requeued": 0, "failed": 1}

    limit = settings.OUTBOX_MAX_ATTEMPTS
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "failed")
    error = page.locator("#import-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(
        f"Nhập thất bại: Tiến trình xử lý công việc này đã dừng đột ngột (lần {limit}/{limit})"
    )
    expect(error).to_contain_text("Lớp dữ liệu không thay đổi; hãy tải tệp lên lại.")
    expect(page.locator("#upload-button")).to_be_enabled()

    # No more polling: nothing asked in four poll intervals.
    asked = len(job_requests)
    page.wait_for_timeout(2_000)
    assert len(job_requests) == asked, job_requests

    stored = in_database(django_db_blocker, lambda: ImportJob.objects.get(pk=job_id).stored_path)
    assert not (Path(settings.MEDIA_ROOT) / stored).exists(), "the upload is removed"
    assert errors == [], errors
