"""The province of a dossier (dossiers.provinces), the shard key of the Citus
mode: looked up from the receiving point's unit there, never on one machine.
The distributed layout itself is tested on a real Citus cluster in
tests/test_citus.py."""

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from dossiers import provinces
from dossiers.provinces import HOME_PROVINCE_CODE, code_scope, dossier_scope, point_scope, province_code_of_point
from layers.models import AdministrativeUnit, Era, ServicePoint, ServicePointKind, UnitLevel


@pytest.fixture
def other_province_point(db) -> ServicePoint:
    """A desk in a commune of a synthetic province 99 (2025 map)."""
    square = MultiPolygon(Polygon.from_bbox((109.0, 21.0, 109.1, 21.1)), srid=4326)
    province = AdministrativeUnit.objects.create(
        code="99", era=Era.POST_2025, level=UnitLevel.PROVINCE, name="Thử", full_name="Tỉnh Thử", geom=square
    )
    commune = AdministrativeUnit.objects.create(
        code="99001",
        era=Era.POST_2025,
        level=UnitLevel.COMMUNE,
        name="Thử Một",
        full_name="Xã Thử Một",
        parent=province,
        geom=square,
    )
    return ServicePoint.objects.create(
        code="DESK-99001",
        kind=ServicePointKind.COMMUNE_DESK,
        name="Bộ phận một cửa xã Thử Một",
        geom=Point(109.05, 21.05, srid=4326),
        receiving_unit_identifier="000.01.99.H99",
        admin_unit=commune,
    )


@pytest.fixture
def citus_mode(settings):
    settings.DATABASE_DISTRIBUTION = "citus"
    for cache in (provinces._BY_UNIT, provinces._BY_POINT, provinces._BY_RECEIVING_UNIT):
        cache.clear()


def test_one_machine_asks_the_database_nothing(other_province_point, django_assert_num_queries):
    code = f"{other_province_point.receiving_unit_identifier}-261205-0001"
    with django_assert_num_queries(0):
        assert province_code_of_point(other_province_point) == HOME_PROVINCE_CODE
        assert code_scope(code) == {}
        assert point_scope(other_province_point.pk) == {}
        assert dossier_scope(7) == {"pk": 7}


def test_citus_mode_finds_the_province_of_a_point_and_a_code(citus_mode, other_province_point):
    home_centre = ServicePoint.objects.get(code="CENTRE-MAIN")
    assert province_code_of_point(other_province_point) == "99"
    assert province_code_of_point(home_centre) == HOME_PROVINCE_CODE
    assert point_scope(other_province_point.pk) == {"province_code": "99"}
    assert code_scope("000.01.99.H99-261205-0001") == {"province_code": "99"}
    assert code_scope(f"{home_centre.receiving_unit_identifier}-261205-0001") == {"province_code": "24"}
    # An identifier no point uses: no province, every shard is asked.
    assert code_scope("000.00.00.X00-261205-0001") == {}


def test_citus_mode_scopes_a_dossier_by_id_with_its_province(citus_mode, submit):
    dossier = submit()
    assert dossier_scope(dossier.pk) == {"pk": dossier.pk, "province_code": dossier.province_code}
    assert dossier.province_code == HOME_PROVINCE_CODE
