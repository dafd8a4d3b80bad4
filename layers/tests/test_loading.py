"""Loading is idempotent; imports are all-or-nothing and place points in their commune."""

import json

import pytest
from django.core.management import CommandError, call_command
from shapely.geometry import Point, shape

from layers.models import AdministrativeUnit, ServicePoint, UnitSuccession
from layers.services import DATA_DIR


def _counts() -> tuple[int, int, int]:
    return AdministrativeUnit.objects.count(), UnitSuccession.objects.count(), ServicePoint.objects.count()


def test_load_demo_twice_changes_nothing(db):
    before = _counts()
    sample = ServicePoint.objects.get(code="DESK-07210")
    call_command("load_demo_layers", verbosity=0)
    assert _counts() == before == (235, 127, 200)
    again = ServicePoint.objects.get(code="DESK-07210")
    assert (again.pk, again.geom.coords) == (sample.pk, sample.geom.coords)


def test_demo_points_lie_in_their_commune(db):
    wards = {
        f["properties"]["code"]: shape(f["geometry"])
        for f in json.loads((DATA_DIR / "bacninh_post2025_wards.geojson").read_text(encoding="utf-8"))["features"]
    }
    for point in ServicePoint.objects.select_related("admin_unit"):
        assert point.is_demo
        # Post offices may sit on the boundary (nearest point of the commune): allow 1 m.
        assert wards[point.admin_unit.code].buffer(1e-5).contains(Point(point.geom.x, point.geom.y)), point.code


def test_import_creates_and_updates_by_code(db, tmp_path):
    csv_file = tmp_path / "points.csv"
    csv_file.write_text(
        "code,kind,name,address,lon,lat,opening_hours,counters,phone,receiving_unit_identifier\n"
        "BD-KINHBAC,post_office,Bưu điện Kinh Bắc,Số 1 Đường X,106.07,21.18,Mo-Fr 07:00-17:00,4,0222 3800 000,\n"
        "DESK-07210,commune_desk,Một cửa phường Bắc Giang (đã khảo sát),Số 2,106.195,21.27,,2,,000.21.10.H04\n",
        encoding="utf-8",
    )
    call_command("import_service_points", str(csv_file), verbosity=0)
    created = ServicePoint.objects.get(code="BD-KINHBAC")
    assert created.counters == 4 and not created.is_demo
    assert created.admin_unit is not None and created.admin_unit.geom.contains(created.geom)
    updated = ServicePoint.objects.get(code="DESK-07210")
    assert updated.name.endswith("(đã khảo sát)") and not updated.is_demo


def test_import_geojson(db, tmp_path):
    path = tmp_path / "points.geojson"
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [106.3, 21.05]},
        "properties": {"code": "GJ-1", "kind": "commune_desk", "name": "Desk", "counters": 2},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    call_command("import_service_points", str(path), verbosity=0)
    assert ServicePoint.objects.get(code="GJ-1").geom.coords == (106.3, 21.05)


@pytest.mark.parametrize(
    "bad_row",
    [
        "X1,bank,Name,,106.07,21.18,,1,,",  # unknown kind
        "X1,post_office,,,106.07,21.18,,1,,",  # no name
        "X1,post_office,Name,,abc,21.18,,1,,",  # bad lon
        "X1,post_office,Name,,2.35,48.85,,1,,",  # Paris, not Bắc Ninh
        "X1,post_office,Name,,106.07,21.18,,0,,",  # no counters
    ],
)
def test_import_refuses_whole_file_on_a_bad_row(db, tmp_path, bad_row):
    path = tmp_path / "points.csv"
    path.write_text(
        "code,kind,name,address,lon,lat,opening_hours,counters,phone,receiving_unit_identifier\n"
        "GOOD-1,post_office,Good,,106.07,21.18,,1,,\n" + bad_row + "\n",
        encoding="utf-8",
    )
    before = ServicePoint.objects.count()
    with pytest.raises(CommandError, match="nothing changed"):
        call_command("import_service_points", str(path), verbosity=0)
    assert ServicePoint.objects.count() == before
    assert not ServicePoint.objects.filter(code="GOOD-1").exists()


def test_import_refuses_unknown_format(db, tmp_path):
    path = tmp_path / "points.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(CommandError, match="unsupported format"):
        call_command("import_service_points", str(path), verbosity=0)


@pytest.mark.parametrize(
    ("name", "content"),
    [("points.geojson", b"{not json"), ("points.csv", b"\xff\xfe\x00garbage"), ("points.geojson", b"[1, 2]")],
)
def test_import_refuses_broken_files(db, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    before = ServicePoint.objects.count()
    with pytest.raises(CommandError, match="broken file"):
        call_command("import_service_points", str(path), verbosity=0)
    assert ServicePoint.objects.count() == before
