"""Registry export: what was imported comes back out equal to the source, in
every export format; selections by bbox and property; the API and command."""

import csv
import io
from pathlib import Path

import pyogrio
import pytest
import shapely
from django.core.management import CommandError, call_command

from layers.models import GeometryType, Visibility
from layers.registries.exporting import layer_export
from layers.registries.importing import import_job_create, layer_import
from layers.registries.selectors import features_of
from layers.tests.fixtures_registry import (
    WRITERS,
    assert_same_features,
    make_layer,
    read_features,
    sample_points,
    sample_polygons,
    write_gpkg,
)

pytestmark = pytest.mark.django_db
EXPORTS = {"gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv"}


@pytest.fixture(autouse=True)
def media(tmp_path, settings) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def imported(layer, path: Path) -> None:
    job = import_job_create(
        layer=layer, acting_user=None, source_name=path.name, mode="replace", path=path, enqueue=False
    )
    assert layer_import(job=job).status == "succeeded", job.message


@pytest.mark.parametrize("source", list(WRITERS))
def test_round_trip_from_every_format_to_every_export(source, tmp_path):
    """source file -> import -> export (GeoPackage, GeoJSON, CSV) -> read with
    GDAL: same attributes, geometry within 1e-7 degrees."""
    layer = make_layer(f"exp-rt-{source}")
    sample = sample_points(50)
    writer, suffix = WRITERS[source]
    imported(layer, writer(sample, tmp_path / f"source{suffix}"))
    for format, extension in EXPORTS.items():
        out = tmp_path / f"out-{source}{extension}"
        count = layer_export(layer=layer, path=out, format=format, features_queryset=features_of(layer=layer))
        assert count == 50
        assert_same_features(sample, *read_features(out))


def test_polygon_round_trip_and_export_reimports_identically(tmp_path):
    layer = make_layer("exp-poly", geometry_type=GeometryType.POLYGON)
    sample = sample_polygons(40)
    imported(layer, write_gpkg(sample, tmp_path / "parcels.gpkg"))
    for format, extension in EXPORTS.items():
        out = tmp_path / f"parcels-out{extension}"
        layer_export(layer=layer, path=out, format=format, features_queryset=features_of(layer=layer))
        assert_same_features(sample, *read_features(out))
        again = make_layer(f"exp-poly-again-{format}", geometry_type=GeometryType.POLYGON)
        imported(again, out)
        assert again.features.count() == 40


def test_mixed_polygon_layer_exports_as_one_multipolygon_type(tmp_path):
    layer = make_layer("exp-mixed", geometry_type=GeometryType.POLYGON)
    sample = sample_polygons(6)
    sample.geoms[0] = shapely.MultiPolygon([sample.geoms[0], shapely.affinity.translate(sample.geoms[0], 0.01)])
    imported(layer, write_gpkg(sample, tmp_path / "mixed.gpkg", geometry_type="Unknown"))
    out = tmp_path / "mixed-out.gpkg"
    layer_export(layer=layer, path=out, format="gpkg", features_queryset=features_of(layer=layer))
    assert pyogrio.read_info(str(out))["geometry_type"] == "MultiPolygon"
    assert_same_features(sample, *read_features(out))


def test_export_of_a_selection(tmp_path):
    layer = make_layer("exp-select")
    sample = sample_points(50)
    imported(layer, write_gpkg(sample, tmp_path / "s.gpkg"))
    box = (106.0, 21.05, 106.15, 21.2)
    inside = {p["name"] for g, p in zip(sample.geoms, sample.properties, strict=True) if shapely.box(*box).covers(g)}
    assert 0 < len(inside) < 50
    out = tmp_path / "box.geojson"
    layer_export(layer=layer, path=out, format="geojson", features_queryset=features_of(layer=layer, bbox=box))
    assert {p["name"] for p in read_features(out)[1]} == inside

    out = tmp_path / "where.csv"
    call_command("export_layer", layer.slug, str(out), "--where", "active=true", stdout=io.StringIO())
    expected = {p["name"] for p in sample.properties if p["active"]}
    assert {p["name"] for p in read_features(out)[1]} == expected
    with pytest.raises(CommandError, match="not a field"):
        call_command("export_layer", layer.slug, str(out), "--where", "nope=1")
    with pytest.raises(CommandError, match="must end in"):
        call_command("export_layer", layer.slug, str(tmp_path / "x.shp"))


def test_empty_layer_exports_an_empty_file(tmp_path):
    layer = make_layer("exp-empty")
    out = tmp_path / "empty.gpkg"
    assert layer_export(layer=layer, path=out, format="gpkg", features_queryset=features_of(layer=layer)) == 0
    assert read_features(out)[0] == []


# --- the API ------------------------------------------------------------------------


@pytest.fixture
def department_layer(tmp_path):
    layer = make_layer("exp-api-dept", visibility=Visibility.DEPARTMENT)
    imported(layer, write_gpkg(sample_points(20), tmp_path / "dept.gpkg"))
    return layer


def _download(response, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(response.streaming_content))
    return path


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 404), ("citizen", 404), ("other", 404), ("owner", 200), ("administrator", 200)],
)
def test_export_api_follows_visibility(who, status, department_layer, make_user, client_as, tmp_path):
    users = {
        None: None,
        "citizen": lambda: make_user("exp-citizen"),
        "other": lambda: make_user("exp-edu", role="processing_officer", agency="so-gddt"),
        "owner": lambda: make_user("exp-health", role="desk_officer", agency="so-y-te"),
        "administrator": lambda: make_user("exp-admin", role="administrator"),
    }
    user = users[who]() if users[who] else None
    response = client_as(user).get(f"/api/v1/layers/{department_layer.slug}/export/", {"format": "geojson"})
    assert response.status_code == status
    if status == 200:
        assert response["Content-Disposition"] == 'attachment; filename="exp-api-dept.geojson"'
        assert len(read_features(_download(response, tmp_path, "api.geojson"))[0]) == 20


def test_export_api_public_layer_bbox_and_bad_parameters(api, tmp_path):
    layer = make_layer("exp-api-public", visibility=Visibility.PUBLIC)
    sample = sample_points(30)
    imported(layer, write_gpkg(sample, tmp_path / "p.gpkg"))
    box = (106.0, 21.05, 106.15, 21.2)
    response = api.get(f"/api/v1/layers/{layer.slug}/export/", {"format": "gpkg", "bbox": ",".join(map(str, box))})
    assert response.status_code == 200 and response["Content-Type"] == "application/geopackage+sqlite3"
    names = {p["name"] for p in read_features(_download(response, tmp_path, "api.gpkg"))[1]}
    inside = {p["name"] for g, p in zip(sample.geoms, sample.properties, strict=True) if shapely.box(*box).covers(g)}
    assert names == inside

    response = api.get(
        f"/api/v1/layers/{layer.slug}/export/", {"format": "shp", "bbox": "1,2,3", "beds": "many", "colour": "red"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"format", "bbox", "beds", "colour"}
    assert all(" / " in messages[0] for messages in response.json().values())


# Texts a spreadsheet would evaluate if a CSV cell started with them.
HOSTILE_TEXTS = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_export_neutralises_formulas_keeps_numbers_and_vietnamese(api, tmp_path):
    layer = make_layer("exp-api-formula", visibility=Visibility.PUBLIC)
    sample = sample_points(len(HOSTILE_TEXTS) + 1)
    for properties, text in zip(sample.properties, [*HOSTILE_TEXTS, "Trạm y tế xã Đình Tổ"], strict=True):
        properties["name"] = text
    sample.properties[0]["rating"] = -12.5
    imported(layer, write_gpkg(sample, tmp_path / "formula.gpkg"))

    response = api.get(f"/api/v1/layers/{layer.slug}/export/", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="exp-api-formula.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    data = b"".join(response.streaming_content)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {"'" + text for text in HOSTILE_TEXTS} | {"Trạm y tế xã Đình Tổ"}
    assert by_name["'" + HOSTILE_TEXTS[0]]["rating"] == "-12.5"  # a number stays a number
    # Nothing else in the file starts a formula either (WKT, lon/lat, dates).
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), row
            assert not value.startswith("-") or float(value) < 0, row
    # The file still imports, into the same values (with the quotes it now has).
    again = make_layer("exp-api-formula-again")
    path = tmp_path / "again.csv"
    path.write_bytes(data)
    imported(again, path)
    assert again.features.count() == len(rows)
