"""PORTAL_STORAGE=s3 end to end: the web server (runserver) and a Celery
worker on "other hosts" (each its own working directory and media folders),
sharing only the database, a private redis-server and a bucket of an S3
server (moto's, on loopback).

- A registry upload through the web is stored in the bucket, imported by the
  worker (which fetches it to a temporary file for GDAL and removes it), and
  its error report, written by the worker into the bucket, downloads through
  the web; a zip bomb is still refused (the check runs on the fetched copy).
- A dossier attachment uploaded through the web is in the bucket (boto3
  says so) and in neither host's folders, and downloads as sent; a file of
  the wrong type or over the size limit is refused with a 400 naming the
  field, and nothing reaches the bucket.
- A feedback photo: its original and its public copy are in the bucket, the
  original downloads for its reporter."""

from collections.abc import Iterator

import pytest

from dossiers.models import Attachment, Dossier, Procedure
from feedback.models import Feedback
from feedback.tests.conftest import KINH_BAC, LOCAL, jpeg_with_gps, point_in
from layers.models import ImportJob
from layers.tests.fixtures_registry import append_bad_csv_rows, sample_points, write_csv
from layers.tests.test_registry_import import _zip_bomb
from tests import test_faults_queue
from tests.browser import session_delete, session_key_for
from tests.committed_dossiers import committed_dossiers
from tests.live import celery_worker, process_env, runserver, wait_for
from tests.objectstore import Bucket, local_files, moto_bucket, other_host
from tests.processes import PrivateRedis
from tests.test_faults_queue import signed_in

pytestmark = pytest.mark.django_db
editor_session = test_faults_queue.editor_session  # a layer and a signed-in official of its department

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"%" * 2000
ATTACHMENT_MAX_BYTES = 100_000


@pytest.fixture(scope="module")
def s3_bucket() -> Iterator[Bucket]:
    with moto_bucket() as bucket:
        yield bucket


@pytest.fixture(scope="module")
def hosts(django_db_setup, django_db_blocker, s3_bucket, tmp_path_factory) -> Iterator[dict]:
    """The web host's server and the worker host's worker, started once."""
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("hosts")
    broker = PrivateRedis(folder / "redis")
    broker.start()
    shared = process_env(
        django_db_blocker,
        REDIS_URL=broker.url(),
        DOSSIER_ATTACHMENT_MAX_BYTES=str(ATTACHMENT_MAX_BYTES),
        **s3_bucket.env(),
    )
    web_home, web_env = other_host(folder, "web")
    worker_home, worker_env = other_host(folder, "worker")
    try:
        with (
            runserver({**shared, **web_env}, web_home) as base_url,
            celery_worker({**shared, **worker_env}, worker_home, cwd=worker_home) as worker,
        ):
            yield {"url": base_url, "worker": worker, "homes": (web_home, worker_home)}
    finally:
        broker.stop()


def no_local_files(hosts: dict) -> bool:
    return all(local_files(home) == [] for home in hosts["homes"])


def import_finished(http, url: str):
    def check():
        state = http.get(url, timeout=10).json()
        return state if state["status"] in ("succeeded", "failed") else None

    return check


def test_a_registry_upload_is_imported_by_the_worker_from_the_bucket(
    hosts, editor_session, s3_bucket, django_db_blocker, tmp_path
):
    layer, session_key = editor_session
    http = signed_in(hosts["url"], session_key)
    path = append_bad_csv_rows(write_csv(sample_points(60, seed=31), tmp_path / "truong-hoc.csv"), 5)
    with path.open("rb") as handle:
        answer = http.post(
            f"{hosts['url']}/api/v1/layers/{layer.slug}/imports/", files={"file": handle}, data={"mode": "replace"}
        )
    assert answer.status_code == 202, answer.text[:2000]
    body = answer.json()
    job = ImportJob.objects.get(pk=body["id"])
    assert job.stored_path.startswith("imports/")

    done = wait_for(
        "the worker to import the upload",
        import_finished(http, body["links"]["self"]),
        logs=(hosts["worker"].log_path,),
    )
    assert done["status"] == "succeeded", done
    assert (done["rows_imported"], done["rows_rejected"]) == (60, 5), done
    job.refresh_from_db()
    report_key = f"media/{job.error_report_path}"
    assert s3_bucket.keys(report_key) == [report_key]
    assert s3_bucket.keys(f"media/{job.stored_path}") == [], "the upload is removed once imported"

    report = http.get(done["links"]["errors"], timeout=10)
    assert report.status_code == 200, report.text[:500]
    assert report.content == s3_bucket.read(report_key)
    assert len(report.content.decode("utf-8-sig").splitlines()) == 1 + 5
    assert no_local_files(hosts)

    # The checks of the file still run, on the worker's fetched copy.
    bomb, _ = _zip_bomb(tmp_path)
    with bomb.open("rb") as handle:
        refused = http.post(
            f"{hosts['url']}/api/v1/layers/{layer.slug}/imports/", files={"file": handle}, data={"mode": "append"}
        ).json()
    failed = wait_for("the bomb to be refused", import_finished(http, refused["links"]["self"]))
    assert failed["status"] == "failed" and "zip" in failed["message"].lower(), failed
    assert no_local_files(hosts)


@pytest.fixture(scope="module")
def citizen(django_db_setup, django_db_blocker) -> Iterator[tuple[object, str]]:
    with committed_dossiers(django_db_blocker) as made:
        with django_db_blocker.unblock():
            session_key = session_key_for(made.citizen)
        try:
            yield made, session_key
        finally:
            with django_db_blocker.unblock():
                # Its dossiers go with the citizen's clean-up.
                made.dossiers.extend(Dossier.objects.filter(applicant=made.citizen))
                Feedback.objects.filter(reporter_user=made.citizen).delete()
                session_delete(session_key)


def submission(made) -> dict:
    return {
        "procedure": Procedure.objects.filter(is_active=True, level="province").order_by("code").first().code,
        "applicant_name": "Nguyễn Văn Thử",
        "applicant_id_number": made.citizen.profile.id_number,
        "applicant_address": "Số 1 đường Lý Thái Tổ, Bắc Ninh",
        "channel": "2",
        "receiving_point": "CENTRE-MAIN",
        "result_delivery": "desk",
    }


def test_a_dossier_attachment_is_kept_in_the_bucket_and_downloads_through_the_web(hosts, citizen, s3_bucket):
    made, session_key = citizen
    http = signed_in(hosts["url"], session_key, page="/accounts/login/")
    before = s3_bucket.keys("private/dossiers/")
    answer = http.post(
        f"{hosts['url']}/api/v1/dossiers/",
        data=submission(made),
        files={"attachments": ("to-khai.pdf", PDF, "application/pdf")},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text[:2000]
    body = answer.json()
    attachment = Attachment.objects.get(dossier__code=body["code"])
    key = f"private/dossiers/{attachment.stored_name}"
    assert s3_bucket.keys("private/dossiers/") == sorted([*before, key])
    assert s3_bucket.read(key) == PDF
    assert no_local_files(hosts)

    download = http.get(f"{hosts['url']}{body['attachments'][0]['url']}", timeout=10)
    assert download.status_code == 200
    assert download.content == PDF

    # Refused files never reach the bucket: a page called .pdf, and a PDF over the limit.
    for name, content in [("to-khai.pdf", b"<html><script>alert(1)</script></html>"), ("lon.pdf", PDF * 60)]:
        refused = http.post(
            f"{hosts['url']}/api/v1/dossiers/",
            data=submission(made),
            files={"attachments": (name, content, "application/pdf")},
            timeout=30,
        )
        assert refused.status_code == 400, refused.text[:2000]
        assert "attachments" in str(refused.json()), refused.json()
    assert s3_bucket.keys("private/dossiers/") == sorted([*before, key])
    assert no_local_files(hosts)


def test_a_feedback_photo_and_its_public_copy_are_kept_in_the_bucket(hosts, citizen, s3_bucket):
    made, session_key = citizen
    http = signed_in(hosts["url"], session_key, page="/accounts/login/")
    photo = jpeg_with_gps()
    lon, lat = point_in(KINH_BAC)
    answer = http.post(
        f"{hosts['url']}/api/v1/feedback/",
        data={"category": LOCAL, "text": "Đèn đường hỏng.", "lon": lon, "lat": lat, "consent_location": "true"},
        files={"photos": ("den.jpg", photo, "image/jpeg")},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text[:2000]
    stored = Feedback.objects.get(public_id=answer.json()["id"]).photos.get()
    original, public = (
        f"private/feedback/original/{stored.original_stored}",
        f"private/feedback/public/{stored.public_stored}",
    )
    assert s3_bucket.keys("private/feedback/") == sorted([original, public])
    assert s3_bucket.read(original) == photo
    assert s3_bucket.read(public).startswith(b"\xff\xd8") and b"Test Camera" not in s3_bucket.read(public)
    download = http.get(f"{hosts['url']}/api/v1/feedback/{stored.feedback.public_id}/photos/{stored.pk}/", timeout=10)
    assert download.status_code == 200 and download.content == photo
    assert no_local_files(hosts)
