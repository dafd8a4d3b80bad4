"""Administrators edit service points in the admin, on a map that needs no CDN,
and delete registry layers with everything that hangs on them."""

import logging
import math
import uuid
from pathlib import Path

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gisportal.accounts.selectors import actor_for
from layers.models import Feature, FeatureChange, ImportJob, Layer, ServicePoint, Visibility
from layers.registries.editing import feature_create
from layers.registries.importing import import_job_create, layer_import
from layers.registries.tiles import TileAddress, tile_cache_key, tile_cache_purge
from layers.tests.fixtures_registry import make_layer, sample_points, write_csv


def _admin_client(client):
    user = get_user_model().objects.create_superuser("root-admin", "a@example.invalid", "x-Strong-pass-1")
    client.force_login(user)
    # The admin speaks Vietnamese by default; these tests read its English counts.
    client.cookies["django_language"] = "en"
    return client


def test_service_point_change_page_has_a_local_map_widget(client, db):
    client = _admin_client(client)
    point = ServicePoint.objects.get(code="POST-07210")
    html = client.get(f"/admin/layers/servicepoint/{point.pk}/change/").content.decode()
    assert "/static/vendor/ol/ol.js" in html and "OLMapWidget.js" in html
    assert "cdn.jsdelivr.net" not in html


def test_admin_saves_a_moved_point(client, db):
    client = _admin_client(client)
    point = ServicePoint.objects.get(code="POST-07210")
    response = client.post(
        f"/admin/layers/servicepoint/{point.pk}/change/",
        {
            "code": point.code,
            "kind": point.kind,
            "name": "Bưu điện tỉnh (đã khảo sát)",
            "address": point.address,
            "geom": Point(106.2, 21.27, srid=4326).ewkt,
            "opening_hours": point.opening_hours,
            "counters": 5,
            "phone": "",
            "receiving_unit_identifier": point.receiving_unit_identifier,
            "admin_unit": point.admin_unit_id,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    point.refresh_from_db()
    assert point.counters == 5 and point.geom.coords == (106.2, 21.27)


def test_anonymous_cannot_reach_the_admin(client, db):
    response = client.get("/admin/layers/servicepoint/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_registry_admin_pages_render_and_history_is_read_only(client, db):
    client = _admin_client(client)
    from layers.models import Layer

    layer = Layer.objects.get(slug="hospitals")
    assert client.get(f"/admin/layers/layer/{layer.pk}/change/").status_code == 200
    assert client.get("/admin/layers/featurechange/").status_code == 200
    assert client.get("/admin/layers/importjob/").status_code == 200
    # The change log cannot be edited or added to by hand.
    assert client.get("/admin/layers/featurechange/add/").status_code == 403


# --- deleting a registry layer -----------------------------------------------


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _history_counts() -> dict:
    """Features, jobs and changes per layer, for the layers the test leaves alone."""
    return {
        layer.slug: (
            Feature.objects.filter(layer=layer).count(),
            ImportJob.objects.filter(layer=layer).count(),
            FeatureChange.objects.filter(layer=layer).count(),
            layer.version,
        )
        for layer in Layer.objects.all()
    }


@pytest.fixture
def doomed(db, tmp_path, settings, make_user):
    """A public layer with features from an import that rejected a row (an
    error report on disk), a queued upload waiting on disk, an edit by an
    officer, and a tile in the cache."""
    settings.MEDIA_ROOT = tmp_path / "media"
    layer = make_layer("adm-delete", visibility=Visibility.PUBLIC)
    path = write_csv(sample_points(12), tmp_path / "points.csv")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[-1], "not-a-number")  # LAT of row 3
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = layer_import(
        job=import_job_create(
            layer=layer, acting_user=None, source_name="points.csv", mode="replace", path=path, enqueue=False
        )
    )
    assert (done.status, done.rows_imported, done.rows_rejected) == ("succeeded", 11, 1), done.message
    upload = SimpleUploadedFile("more.csv", path.read_bytes(), content_type="text/csv")
    queued = import_job_create(
        layer=layer, acting_user=None, source_name="more.csv", mode="append", upload=upload, enqueue=False
    )
    officer = make_user("adm-delete-officer", role="processing_officer", agency="so-y-te")
    feature_create(
        actor=actor_for(officer),
        layer=layer,
        geometry={"type": "Point", "coordinates": [106.07, 21.18]},
        properties={"name": "thêm"},
    )
    files = [Path(settings.MEDIA_ROOT) / done.error_report_path, Path(settings.MEDIA_ROOT) / queued.stored_path]
    assert all(f.is_file() for f in files)
    layer.refresh_from_db()
    x, y = _tile_of(106.07, 21.18, 12)
    tile = TileAddress(12, x, y)
    assert Client().get(f"/tiles/adm-delete/12/{x}/{y}.pbf").status_code == 200
    assert cache.get(tile_cache_key(layer=layer, tile=tile)) is not None
    return layer, files, tile_cache_key(layer=layer, tile=tile)


def test_admin_deletes_a_layer_with_its_features_jobs_changes_and_files(
    client, doomed, django_capture_on_commit_callbacks, caplog
):
    layer, files, tile_key = doomed
    assert (Feature.objects.filter(layer=layer).count(), layer.imports.count(), layer.changes.count()) == (12, 2, 2)
    others = {slug: counts for slug, counts in _history_counts().items() if slug != layer.slug}
    client = _admin_client(client)
    url = f"/admin/layers/layer/{layer.pk}/delete/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "12 features" in html and "2 import jobs" in html and "2 feature changes" in html
    assert "Không thể xóa" not in html, "Django refused: the change history is read-only in the admin"
    with caplog.at_level(logging.INFO, logger="gisportal.audit"), django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"post": "yes"})
    assert response.status_code == 302 and response["Location"] == "/admin/layers/layer/"
    assert not Layer.objects.filter(pk=layer.pk).exists()
    assert not Feature.objects.filter(layer_id=layer.pk).exists()
    assert not ImportJob.objects.filter(layer_id=layer.pk).exists()
    assert not FeatureChange.objects.filter(layer_id=layer.pk).exists()
    assert not any(f.exists() for f in files)
    assert cache.get(tile_key) is None
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(Layer), object_id=str(layer.pk))
    assert entry.action_flag == DELETION and entry.user.username == "root-admin"
    audit = [r.getMessage() for r in caplog.records if r.name == "gisportal.audit"]
    assert any(
        "layer deleted slug=adm-delete" in line and "features=12" in line and "changes=2" in line for line in audit
    )
    assert _history_counts() == others


def test_admin_bulk_delete_action(client, doomed, django_capture_on_commit_callbacks):
    layer, files, _ = doomed
    others = {slug: counts for slug, counts in _history_counts().items() if slug != layer.slug}
    client = _admin_client(client)
    chosen = {"action": "delete_selected", "_selected_action": [layer.pk]}
    confirm = client.post("/admin/layers/layer/", chosen)
    assert confirm.status_code == 200 and "12 features" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/layers/layer/", {**chosen, "post": "yes"})
    assert response.status_code == 302
    assert not Layer.objects.filter(pk=layer.pk).exists() and not any(f.exists() for f in files)
    assert LogEntry.objects.filter(object_id=str(layer.pk), action_flag=DELETION).exists()
    assert _history_counts() == others


@pytest.mark.parametrize("backend", ["redis", "locmem"])
def test_tile_cache_purge_removes_only_that_layer(settings, backend):
    """Both cache backends the portal runs on: Redis (production; a database
    and key prefix of its own on the shared server) and local memory."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/14",
            "KEY_PREFIX": f"purge-test-{uuid.uuid4().hex}",
        }
        if backend == "redis"
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "purge-test"}
    }
    doomed = [f"tile:2:parks:41:v{v}:12/{x}/1800" for v in (1, 7) for x in (3000, 3001)]
    kept = ["tile:2:parks:410:v1:12/3000/1800", "tile:2:parks-2:41:v1:12/3000/1800", "registry:counts:41:1:2025"]
    for key in doomed + kept:
        cache.set(key, b"x", 60)
    try:
        assert tile_cache_purge(slug="parks", layer_id=41) == len(doomed)
        assert [key for key in doomed + kept if cache.get(key) is not None] == kept
    finally:
        cache.delete_many(doomed + kept)  # not clear(): on Redis that empties the whole database
