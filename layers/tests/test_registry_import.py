"""Registry import: every format, VN-2000, repair and rejection rules, hostile
files (each refused with the layer unchanged), the upload API and the command."""

import csv
import datetime as dt
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from pyproj import Geod, Transformer

from layers.models import Feature, FeatureChange, GeometryType, ImportJob, Visibility
from layers.registries import importing
from layers.registries.importing import import_job_create, layer_import
from layers.tests.fixtures_registry import (
    SCHEMA,
    WRITERS,
    Sample,
    _table,
    _write,
    assert_same_features,
    make_layer,
    sample_points,
    sample_polygons,
    write_csv,
    write_geojson,
    write_gpkg,
    write_shapefile_zip,
)

pytestmark = pytest.mark.django_db
GEOD = Geod(ellps="WGS84")


@pytest.fixture(autouse=True)
def media(tmp_path, settings) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def run_import(layer, path: Path, *, mode: str = "replace", user=None, source_name: str | None = None) -> ImportJob:
    job = import_job_create(
        layer=layer, acting_user=user, source_name=source_name or path.name, mode=mode, path=path, enqueue=False
    )
    return layer_import(job=job)


def stored(layer) -> tuple[list, list[dict]]:
    rows = list(Feature.objects.filter(layer=layer).order_by("id").values_list("geom", "properties"))
    return [shapely.from_wkt(g.wkt) for g, _ in rows], [p for _, p in rows]


def snapshot(layer) -> tuple:
    layer.refresh_from_db()
    features = tuple(Feature.objects.filter(layer=layer).order_by("id").values_list("id", "properties"))
    return layer.version, layer.feature_count, features, FeatureChange.objects.filter(layer=layer).count()


def report_rows(media: Path, job: ImportJob) -> list[dict]:
    assert job.error_report_path
    with (media / job.error_report_path).open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


# --- every format lands as it was ---------------------------------------------------


@pytest.mark.parametrize("format", list(WRITERS))
def test_points_of_every_format_land_unchanged(format, tmp_path):
    layer = make_layer(f"imp-points-{format}")
    sample = sample_points(50)
    writer, suffix = WRITERS[format]
    job = run_import(layer, writer(sample, tmp_path / f"clinics{suffix}"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert (job.rows_total, job.rows_done, job.rows_imported, job.rows_rejected) == (50, 50, 50, 0)
    assert job.format == format
    assert_same_features(sample, *stored(layer))
    layer.refresh_from_db()
    assert layer.feature_count == 50 and layer.version == 2
    change = FeatureChange.objects.get(layer=layer)
    assert change.action == FeatureChange.Action.IMPORT and "50 imported" in change.note


def test_points_remade_2d_or_single_land_beside_points_stored_as_read(tmp_path):
    """One batch mixes rows stored from the file's own WKB and rows whose
    geometry the importer remade (Z dropped, a one-part MultiPoint made a
    Point): each lands where the file put it, in 2D."""
    layer = make_layer("imp-points-mixed")
    sample = sample_points(8)
    written = list(sample.geoms)
    written[1] = shapely.Point(written[1].x, written[1].y, 12.5)
    written[4] = shapely.MultiPoint([written[4]])
    written[6] = shapely.Point(written[6].x, written[6].y, -3.0)
    path = _write(_table(sample, geoms=written), tmp_path / "mixed.gpkg", "GPKG", dataset_options={"VERSION": "1.3"})
    job = run_import(layer, path)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert (job.rows_imported, job.rows_rejected) == (8, 0)
    geoms, properties = stored(layer)
    assert not any(shapely.has_z(geoms))
    assert_same_features(sample, geoms, properties)


@pytest.mark.parametrize("format", ["gpkg", "shapefile", "geojson", "kml"])
def test_polygons_land_unchanged(format, tmp_path):
    layer = make_layer(f"imp-poly-{format}", geometry_type=GeometryType.POLYGON)
    sample = sample_polygons(30)
    writer, suffix = WRITERS[format]
    job = run_import(layer, writer(sample, tmp_path / f"parcels{suffix}"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert_same_features(sample, *stored(layer))


def test_csv_with_semicolons_and_other_column_names(tmp_path):
    layer = make_layer("imp-csv-semicolon")
    sample = sample_points(20)
    job = run_import(layer, write_csv(sample, tmp_path / "x.csv", lon="LNG", lat="Latitude", delimiter=";"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert_same_features(sample, *stored(layer))


def test_append_adds_and_replace_replaces(tmp_path):
    layer = make_layer("imp-modes")
    first = write_gpkg(sample_points(50, seed=1), tmp_path / "a.gpkg")
    second = write_gpkg(sample_points(20, seed=5), tmp_path / "b.gpkg")
    assert run_import(layer, first).status == ImportJob.Status.SUCCEEDED
    assert run_import(layer, second, mode="append").status == ImportJob.Status.SUCCEEDED
    layer.refresh_from_db()
    assert (layer.feature_count, Feature.objects.filter(layer=layer).count(), layer.version) == (70, 70, 3)
    assert run_import(layer, second, mode="replace").status == ImportJob.Status.SUCCEEDED
    layer.refresh_from_db()
    assert (layer.feature_count, Feature.objects.filter(layer=layer).count(), layer.version) == (20, 20, 4)
    assert FeatureChange.objects.filter(layer=layer, action="import").count() == 3


# --- VN-2000 lands where pyproj says -------------------------------------------------


@pytest.mark.parametrize("epsg", [9210, 3405])
def test_vn2000_shapefile_lands_within_a_metre(epsg, tmp_path):
    layer = make_layer(f"imp-vn2000-{epsg}")
    known = [(106.07, 21.18), (106.0762, 21.1861), (105.95, 21.05), (106.28, 21.2)]  # Bắc Ninh city and around
    sample = Sample(
        [shapely.Point(lon, lat) for lon, lat in known],
        [{"name": f"p{i}", **dict.fromkeys(f["name"] for f in SCHEMA[1:])} for i in range(len(known))],
    )
    path = write_shapefile_zip(sample, tmp_path / "vn2000.zip", epsg=epsg)
    # The file really is projected: metres, not degrees.
    with zipfile.ZipFile(path) as archive:
        assert "VN" in archive.read("vn2000.prj").decode() or "Vietnam" in archive.read("vn2000.prj").decode()
    projected = Transformer.from_crs(4326, epsg, always_xy=True).transform(106.07, 21.18)
    assert projected[0] > 1000 and projected[1] > 1_000_000

    job = run_import(layer, path)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.source_crs == f"EPSG:{epsg}"
    by_name = {p["name"]: g for g, p in zip(*stored(layer), strict=True)}
    for i, (lon, lat) in enumerate(known):
        point = by_name[f"p{i}"]
        _, _, metres = GEOD.inv(lon, lat, point.x, point.y)
        assert metres < 1.0, (epsg, i, metres)


def test_projected_file_without_crs_is_refused(tmp_path):
    layer = make_layer("imp-no-crs")
    sample = sample_points(5)
    path = write_shapefile_zip(sample, tmp_path / "noprj.zip", epsg=9210)
    stripped = tmp_path / "stripped.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(stripped, "w") as target:
        for name in source.namelist():
            if not name.endswith(".prj"):
                target.writestr(name, source.read(name))
    before = snapshot(layer)
    job = run_import(layer, stripped)
    assert job.status == ImportJob.Status.FAILED
    assert "coordinate system" in job.message and "hệ toạ độ" in job.message
    assert snapshot(layer) == before


# --- repair, rejection, flags -------------------------------------------------------


def _polygon_sample(wkts: list[str]) -> Sample:
    props = [{"name": f"poly {i}", **dict.fromkeys(f["name"] for f in SCHEMA[1:])} for i in range(len(wkts))]
    return Sample([shapely.from_wkt(w) for w in wkts], props)


def _square(x: float, y: float, size: float = 0.001) -> str:
    return f"POLYGON(({x} {y}, {x + size} {y}, {x + size} {y + size}, {x} {y + size}, {x} {y}))"


def test_bow_tie_is_repaired_and_ambiguous_polygon_rejected(tmp_path, media):
    layer = make_layer("imp-repair", geometry_type=GeometryType.POLYGON)
    x, y = 106.05, 21.15
    bow_tie = f"POLYGON(({x} {y}, {x + 0.002} {y + 0.002}, {x + 0.002} {y}, {x} {y + 0.002}, {x} {y}))"
    # Two parts overlapping by a quarter: "linework" repair cuts the overlap
    # out, "structure" merges it; which was meant is unknown.
    overlapping = (
        f"MULTIPOLYGON((({x} {y}, {x + 0.002} {y}, {x + 0.002} {y + 0.002}, {x} {y + 0.002}, {x} {y})),"
        f"(({x + 0.001} {y + 0.001}, {x + 0.003} {y + 0.001}, {x + 0.003} {y + 0.003}, {x + 0.001} {y + 0.003},"
        f" {x + 0.001} {y + 0.001})))"
    )
    good = [_square(x + 0.01 * i, y + 0.01) for i in range(4)]
    sample = _polygon_sample([bow_tie, overlapping, *good])
    assert not sample.geoms[0].is_valid and not sample.geoms[1].is_valid
    job = run_import(layer, write_geojson(sample, tmp_path / "repair.geojson"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert (job.rows_imported, job.rows_repaired, job.rows_rejected) == (5, 1, 1)

    by_name = {p["name"]: g for g, p in zip(*stored(layer), strict=True)}
    repaired = by_name["poly 0"]
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon"
    # Two triangles of the bow-tie, each a quarter of the 0.002° square (shapely, independently).
    assert repaired.area == pytest.approx(0.002 * 0.002 / 2, rel=1e-6)
    assert "poly 1" not in by_name
    rows = {r["row"]: r for r in report_rows(media, job)}
    assert rows["1"]["outcome"] == "repaired"
    assert rows["2"]["outcome"] == "rejected" and "ambiguous" in rows["2"]["reason"]
    assert json.loads(rows["2"]["attributes"])["name"] == "poly 1"


def test_collapsed_polygon_rejected(tmp_path, media):
    layer = make_layer("imp-collapsed", geometry_type=GeometryType.POLYGON)
    line_like = "POLYGON((106.05 21.15, 106.06 21.15, 106.07 21.15, 106.05 21.15))"
    sample = _polygon_sample([line_like, *[_square(106.0 + 0.01 * i, 21.1) for i in range(3)]])
    job = run_import(layer, write_geojson(sample, tmp_path / "collapsed.geojson"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert (job.rows_imported, job.rows_rejected) == (3, 1)
    assert report_rows(media, job)[0]["outcome"] == "rejected"


def test_far_away_features_are_flagged_not_dropped(tmp_path, media):
    layer = make_layer("imp-far")
    sample = sample_points(10)
    sample.geoms[2] = shapely.Point(106.70, 10.78)  # Hồ Chí Minh City
    sample.geoms[5] = shapely.Point(105.50, 21.00)  # beyond Hà Nội, ~40 km west of the province
    sample.geoms[7] = shapely.Point(105.86, 21.10)  # ~2 km west of the province box: not far
    job = run_import(layer, write_gpkg(sample, tmp_path / "far.gpkg"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert (job.rows_imported, job.rows_flagged) == (10, 2)
    flagged = [r for r in report_rows(media, job) if r["outcome"] == "flagged"]
    assert [r["row"] for r in flagged] == ["3", "6"]
    assert Feature.objects.filter(layer=layer).count() == 10


def test_rows_with_bad_attributes_are_rejected_with_the_field_named(tmp_path, media):
    layer = make_layer("imp-bad-attr")
    path = write_csv(sample_points(20), tmp_path / "attrs.csv")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    for row, (field, value) in {3: ("beds", "nhiều"), 7: ("opened", "31/02/2020"), 9: ("active", "maybe")}.items():
        cells = next(csv.reader([lines[row]]))
        cells[header.index(field)] = value
        buffer = io.StringIO()
        csv.writer(buffer).writerow(cells)
        lines[row] = buffer.getvalue().strip()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    job = run_import(layer, path)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert (job.rows_imported, job.rows_rejected) == (17, 3)
    reasons = {r["row"]: r["reason"] for r in report_rows(media, job)}
    assert "Field beds" in reasons["3"] and "Field opened" in reasons["7"] and "Field active" in reasons["9"]


# --- hostile and broken files: refused, layer unchanged -----------------------------


def _truncated_gpkg(tmp_path: Path) -> tuple[Path, str]:
    path = write_gpkg(sample_points(2000), tmp_path / "truncated.gpkg")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, "GeoPackage"


def _invalid_json(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Po', "utf-8")
    return path, "GeoJSON"


def _text_named_gpkg(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "notes.gpkg"
    path.write_text("Danh sách trạm y tế\nkhông phải GeoPackage\n", "utf-8")
    return path, "not GeoPackage"


def _zip_bomb(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.shp", b"\0" * (20 * 1024 * 1024))  # 20 MB of zeros, ~20 KB packed
        archive.writestr("bomb.shx", b"")
        archive.writestr("bomb.dbf", b"")
    assert path.stat().st_size < 100_000
    return path, "zip bomb"


def _forged_zip_size(tmp_path: Path) -> tuple[Path, str]:
    """A zip whose directory claims a 4 GB entry (stored, so the ratio is not what trips)."""
    path = write_shapefile_zip(sample_points(5), tmp_path / "forged.zip")
    data = bytearray(path.read_bytes())
    start = data.index(b"PK\x01\x02")
    data[start + 24 : start + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path, "zip bomb"


def _zip_slip(tmp_path: Path) -> tuple[Path, str]:
    source = write_shapefile_zip(sample_points(5), tmp_path / "inner.zip")
    path = tmp_path / "slip.zip"
    with zipfile.ZipFile(source) as inner, zipfile.ZipFile(path, "w") as archive:
        for name in inner.namelist():
            archive.writestr(f"../{name.replace('inner', 'evil')}", inner.read(name))
    return path, "unsafe path"


def _too_many_entries(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(1001):
            archive.writestr(f"f{i}.txt", b"")
    return path, "too many entries"


def _wrong_geometry_type(tmp_path: Path) -> tuple[Path, str]:
    return write_gpkg(sample_polygons(10), tmp_path / "polygons.gpkg"), "does not fit a Point layer"


def _wrong_attribute_type(tmp_path: Path) -> tuple[Path, str]:
    path = write_csv(sample_points(10), tmp_path / "typed.csv")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    rows = [next(csv.reader([line])) for line in lines]
    for row in rows[1:]:
        row[1] = "không rõ"  # beds
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), "utf-8")
    return path, "Only 0 of 10 rows"


def _empty_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "empty.geojson"
    path.write_bytes(b"")
    return path, "empty"


def _unknown_extension(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "data.dxf"
    path.write_text("0\nSECTION\n", "utf-8")
    return path, "Unsupported file type"


HOSTILE = {
    "truncated-gpkg": _truncated_gpkg,
    "invalid-json": _invalid_json,
    "text-named-gpkg": _text_named_gpkg,
    "zip-bomb": _zip_bomb,
    "forged-zip-size": _forged_zip_size,
    "zip-slip": _zip_slip,
    "too-many-entries": _too_many_entries,
    "wrong-geometry-type": _wrong_geometry_type,
    "wrong-attribute-type": _wrong_attribute_type,
    "empty": _empty_file,
}


@pytest.fixture
def populated(tmp_path):
    layer = make_layer("imp-hostile")
    assert run_import(layer, write_gpkg(sample_points(30, seed=9), tmp_path / "base.gpkg")).status == "succeeded"
    return layer


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_and_broken_files_are_refused_and_change_nothing(case, populated, tmp_path):
    path, expected = HOSTILE[case](tmp_path)
    before = snapshot(populated)
    job = run_import(populated, path)
    assert job.status == ImportJob.Status.FAILED
    assert expected in job.message, job.message
    assert " / " in job.message  # Vietnamese / English
    assert job.finished_at is not None
    assert snapshot(populated) == before


def test_unknown_extension_refused_before_a_job_exists(tmp_path):
    layer = make_layer("imp-ext")
    path, expected = _unknown_extension(tmp_path)
    with pytest.raises(importing.ImportRefused, match=expected):
        run_import(layer, path)
    assert not ImportJob.objects.filter(layer=layer).exists()


def test_file_over_the_upload_limit_is_refused_before_parsing(populated, tmp_path, settings, monkeypatch):
    path = write_gpkg(sample_points(50), tmp_path / "big.gpkg")
    settings.UPLOAD_MAX_BYTES = path.stat().st_size - 1
    opened = []
    monkeypatch.setattr(importing, "_open_source", lambda **kw: opened.append(kw))
    before = snapshot(populated)
    job = run_import(populated, path)
    assert job.status == ImportJob.Status.FAILED and "too large" in job.message
    assert opened == [] and snapshot(populated) == before


def test_failure_during_the_swap_leaves_the_layer_as_it_was(populated, tmp_path, monkeypatch):
    def broken_touch(layer):
        raise DatabaseError("disk full")

    monkeypatch.setattr(importing, "layer_touch", broken_touch)
    before = snapshot(populated)
    job = import_job_create(
        layer=populated,
        acting_user=None,
        source_name="new.gpkg",
        mode="replace",
        path=write_gpkg(sample_points(40, seed=3), tmp_path / "new.gpkg"),
        enqueue=False,
    )
    with pytest.raises(DatabaseError):
        layer_import(job=job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "unchanged" in job.message
    assert snapshot(populated) == before


# --- progress ---------------------------------------------------------------------


def test_progress_is_reported_per_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 40)
    layer = make_layer("imp-progress")
    calls = []
    job = import_job_create(
        layer=layer,
        acting_user=None,
        source_name="p.gpkg",
        mode="replace",
        path=write_gpkg(sample_points(100), tmp_path / "p.gpkg"),
        enqueue=False,
    )
    layer_import(job=job, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 100), (40, 100), (80, 100), (100, 100)]
    job.refresh_from_db()
    assert job.progress == 1.0 and job.rows_done == 100


# --- the upload API -------------------------------------------------------------------


def _upload(client, slug: str, path: Path, **data):
    with path.open("rb") as handle:
        return client.post(f"/api/v1/layers/{slug}/imports/", {"file": handle, **data}, format="multipart")


@pytest.fixture
def callers(make_user):
    return {
        "anonymous": None,
        "citizen": make_user("imp-citizen"),
        "other-official": make_user("imp-edu", role="processing_officer", agency="so-gddt"),
        "owner-official": make_user("imp-health", role="processing_officer", agency="so-y-te"),
        "administrator": make_user("imp-admin", role="administrator"),
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", {401, 403}),
        ("citizen", {404}),
        ("other-official", {403}),
        ("owner-official", {202}),
        ("administrator", {202}),
    ],
)
def test_upload_access_matrix(who, expected, callers, client_as, tmp_path, django_capture_on_commit_callbacks):
    layer = make_layer("imp-api", visibility=Visibility.INTERNAL)
    path = write_gpkg(sample_points(10), tmp_path / "up.gpkg")
    with django_capture_on_commit_callbacks() as callbacks:
        response = _upload(client_as(callers[who]), layer.slug, path, mode="append")
    assert response.status_code in expected, response.content
    if response.status_code == 202:
        body = response.json()
        assert body["status"] == "queued" and body["mode"] == "append" and body["layer"] == layer.slug
        assert body["links"]["self"].endswith(f"/api/v1/imports/{body['id']}/")
        assert len(callbacks) == 1  # the Celery task, sent after commit
        job = ImportJob.objects.get(pk=body["id"])
        stored_file = Path(job.stored_path)
        assert stored_file.parts[0] == "imports" and "up" not in stored_file.name
    else:
        assert not ImportJob.objects.filter(layer=layer).exists() and callbacks == []
        assert "detail" in response.json()


def test_department_layer_is_404_for_another_agency(callers, client_as, tmp_path):
    layer = make_layer("imp-dept", visibility=Visibility.DEPARTMENT)
    path = write_gpkg(sample_points(5), tmp_path / "d.gpkg")
    assert _upload(client_as(callers["other-official"]), layer.slug, path).status_code == 404
    assert _upload(client_as(callers["owner-official"]), "imp-no-such-layer", path).status_code == 404


def test_upload_bad_input_names_the_field(callers, client_as, tmp_path, settings):
    layer = make_layer("imp-api-bad")
    client = client_as(callers["owner-official"])
    response = client.post(f"/api/v1/layers/{layer.slug}/imports/", {"mode": "merge"}, format="multipart")
    assert response.status_code == 400 and set(response.json()) == {"file", "mode"}
    odd = tmp_path / "drawing.dwg"
    odd.write_bytes(b"AC1032")
    response = _upload(client, layer.slug, odd)
    assert response.status_code == 400 and "Unsupported" in response.json()["file"][0]
    settings.UPLOAD_MAX_BYTES = 100
    response = _upload(client, layer.slug, write_gpkg(sample_points(5), tmp_path / "x.gpkg"))
    assert response.status_code == 413 and "too large" in response.json()["file"][0]
    assert not ImportJob.objects.filter(layer=layer).exists()


def test_job_status_and_error_report_through_the_api(callers, client_as, tmp_path, media):
    layer = make_layer("imp-api-job")
    owner = client_as(callers["owner-official"])
    sample = sample_points(10)
    sample.geoms[4] = shapely.Point(106.70, 10.78)
    response = _upload(owner, layer.slug, write_gpkg(sample, tmp_path / "job.gpkg"))
    assert response.status_code == 202
    job = ImportJob.objects.get(pk=response.json()["id"])
    layer_import(job=job)  # what the worker does (the queue itself: tests/test_import_queue.py)
    assert not (media / job.stored_path).exists()  # the upload is removed once imported

    body = owner.get(f"/api/v1/imports/{job.pk}/").json()
    assert body["status"] == "succeeded" and body["progress"] == 1.0
    assert (body["rows_imported"], body["rows_flagged"]) == (10, 1)
    report = owner.get(body["links"]["errors"])
    assert report.status_code == 200 and report["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert [(r["row"], r["outcome"]) for r in rows] == [("5", "flagged")]

    for who in ("other-official", "citizen", "anonymous"):
        assert client_as(callers[who]).get(f"/api/v1/imports/{job.pk}/").status_code in {401, 403, 404}
        assert client_as(callers[who]).get(f"/api/v1/imports/{job.pk}/errors.csv").status_code in {401, 403, 404}
    assert client_as(callers["administrator"]).get(f"/api/v1/imports/{job.pk}/").status_code == 200
    assert owner.get("/api/v1/imports/999999999/").status_code == 404


def test_error_report_is_utf8_csv_that_no_spreadsheet_runs(callers, client_as, tmp_path, media):
    """Rejected rows whose values are formulas: the report names them inside
    its JSON cell, and no cell of the file starts a formula."""
    hostile = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    path = write_csv(sample_points(14), tmp_path / "formula.csv")
    lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    beds = lines[0].index("beds")
    for line, text in zip(lines[1:], hostile, strict=False):
        line[0] = text
        line[beds] = f"{text} giường"  # not an integer: the row is rejected
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(lines)
    path.write_text(buffer.getvalue(), "utf-8")
    job = run_import(make_layer("imp-formula"), path, user=callers["owner-official"])
    assert (job.status, job.rows_imported, job.rows_rejected) == ("succeeded", 8, 6), job.message

    report = client_as(callers["owner-official"]).get(f"/api/v1/imports/{job.pk}/errors.csv")
    assert report.status_code == 200
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    assert report["X-Content-Type-Options"] == "nosniff"
    data = b"".join(report.streaming_content)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["row", "outcome", "reason", "attributes"]
    read = [text.replace("\r", "\n") for text in hostile]  # GDAL's CSV reader turns CR in a cell into LF
    assert [json.loads(row[3])["name"] for row in rows[1:]] == read
    assert [json.loads(row[3])["beds"] for row in rows[1:]] == [f"{text} giường" for text in read]
    assert all(row[1] == "rejected" and "beds" in row[2] for row in rows[1:])
    assert not [cell for row in rows for cell in row if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]


# --- the management command ----------------------------------------------------------


def test_import_command_prints_counts_and_fails_cleanly(tmp_path, callers):
    layer = make_layer("imp-command")
    out = io.StringIO()
    call_command(
        "import_layer",
        layer.slug,
        str(write_gpkg(sample_points(25), tmp_path / "c.gpkg")),
        "--user",
        "imp-health",
        stdout=out,
        stderr=io.StringIO(),
        verbosity=0,
    )
    assert "Imported 25 features" in out.getvalue()
    assert FeatureChange.objects.get(layer=layer).user.username == "imp-health"
    broken, _ = _invalid_json(tmp_path)
    with pytest.raises(CommandError, match="broken"):
        call_command("import_layer", layer.slug, str(broken), verbosity=0, stdout=io.StringIO())
    with pytest.raises(CommandError, match="no layer"):
        call_command("import_layer", "imp-missing", str(broken), verbosity=0)
    layer.refresh_from_db()
    assert layer.feature_count == 25


def test_datetimes_without_zone_are_local_time(tmp_path):
    layer = make_layer("imp-tz")
    path = tmp_path / "tz.csv"
    path.write_text("name,lon,lat,checked\nA,106.07,21.18,2024-03-01 08:30:00\nB,106.08,21.19,\n", "utf-8")
    assert run_import(layer, path).status == ImportJob.Status.SUCCEEDED
    stored_value = Feature.objects.get(layer=layer, properties__name="A").properties["checked"]
    assert dt.datetime.fromisoformat(stored_value) == dt.datetime(2024, 3, 1, 1, 30, tzinfo=dt.UTC)


# --- columns the schema does not know -----------------------------------------------


@pytest.mark.parametrize("format", ["csv", "gpkg", "geojson"])
def test_unknown_columns_are_named_not_silently_dropped(format, tmp_path, media):
    layer = make_layer(f"imp-unknown-{format}", schema=[*SCHEMA[:1], {"name": "ghost_field", "type": "string"}])
    sample = sample_points(12)
    writer, suffix = WRITERS[format]
    job = run_import(layer, writer(sample, tmp_path / f"extra{suffix}"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    not_in_schema = [f["name"] for f in SCHEMA[1:]]
    assert "Columns not in the layer's schema, not imported: " + ", ".join(not_in_schema) in job.message
    (row,) = [r for r in report_rows(media, job) if r["outcome"] == "column_ignored"]
    assert row["row"] == "0" and all(name in row["reason"] for name in not_in_schema)
    # The CSV's geometry columns are not "unknown".
    assert "Longitude" not in job.message and "LAT" not in job.message


def test_a_file_that_matches_the_schema_reports_no_column(tmp_path, media):
    layer = make_layer("imp-known-columns")
    job = run_import(layer, write_csv(sample_points(10), tmp_path / "ok.csv"))
    assert job.status == ImportJob.Status.SUCCEEDED and "schema" not in job.message
    assert job.error_report_path == ""


def test_a_refused_file_names_its_unknown_columns_and_changes_nothing(tmp_path, media):
    layer = make_layer("imp-refused-columns", schema=[{"name": "n", "type": "integer"}])
    first = run_import(layer, write_csv(sample_points(10), tmp_path / "a.csv"), mode="append")
    before = snapshot(layer)
    bad = tmp_path / "b.csv"
    bad.write_text("N,misspelt_name,lon,lat\nx,a,106.05,21.18\ny,b,106.06,21.17\n", encoding="utf-8")
    job = run_import(layer, bad, mode="append")
    assert first.status == ImportJob.Status.SUCCEEDED
    assert job.status == ImportJob.Status.FAILED and "misspelt_name" in job.message
    assert snapshot(layer) == before


# --- the reading thread ---------------------------------------------------------------


def _reader_threads() -> list:
    return [t for t in threading.enumerate() if t.name == "import-reader"]


def test_the_reading_thread_stops_when_the_copy_side_stops_early():
    closed = []

    def batches():
        try:
            yield from range(100)
        finally:
            closed.append(True)

    ahead = importing._ahead(batches(), importing._Phases())
    assert next(ahead) == 0
    ahead.close()  # what an error in the COPY's thread does to the loop
    assert closed == [True]
    assert _reader_threads() == []


def test_an_error_in_the_reading_thread_is_raised_in_the_copy_thread():
    def batches():
        yield 1
        raise importing.ImportRefused("hỏng / broken")

    got = []
    with pytest.raises(importing.ImportRefused, match="broken"):
        for item in importing._ahead(batches(), importing._Phases()):
            got.append(item)
    assert got == [1]
    assert _reader_threads() == []
