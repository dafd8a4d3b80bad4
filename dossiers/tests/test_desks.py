"""GET /api/v1/procedures/{code}/desks/?lon=&lat=: which desks may receive a
procedure for an address, and why one is proposed; and the submission refusing
a citizen's commune-level dossier at another commune's desk. Checked on the
real 2025 boundaries of Kinh Bắc ward (09187) and Vũ Ninh ward (09169) with
shapely (containment) and pyproj (geodesic metres), not with the code's own
queries."""

import numpy as np
import pytest
from django.core.cache import cache
from django.test import override_settings
from pyproj import Geod
from shapely import wkb
from shapely.geometry import Point as ShapelyPoint

from dossiers.models import Dossier, DossierEvent, Procedure
from gisportal.accounts.models import Agency
from layers.models import AdministrativeUnit, ServicePoint

pytestmark = pytest.mark.django_db

GEOD = Geod(ellps="WGS84")
KINH_BAC, VU_NINH = "09187", "09169"
DESKS = "/api/v1/procedures/{code}/desks/"
DOSSIERS = "/api/v1/dossiers/"


def _shape(code: str):
    unit = AdministrativeUnit.objects.get(era="2025", level="commune", code=code)
    return wkb.loads(bytes(unit.geom.wkb))


def _metres(lon: float, lat: float, point: ServicePoint) -> float:
    return GEOD.inv(lon, lat, point.geom.x, point.geom.y)[2]


@pytest.fixture
def tapped():
    """A spot inside Kinh Bắc ward (shapely) whose nearest commune desk of all
    (pyproj) is Vũ Ninh ward's: where the old page proposed the wrong desk."""
    ward = _shape(KINH_BAC)
    desks = list(ServicePoint.objects.filter(kind="commune_desk", is_active=True))
    west, south, east, north = ward.bounds
    for lat in np.linspace(south, north, 80):
        for lon in np.linspace(west, east, 80):
            if not ward.contains(ShapelyPoint(lon, lat)):
                continue
            nearest = min(desks, key=lambda desk: _metres(lon, lat, desk))
            if nearest.code == f"DESK-{VU_NINH}":
                return round(float(lon), 6), round(float(lat), 6)
    pytest.fail("no spot of Kinh Bắc ward has Vũ Ninh's desk as its nearest")


@pytest.fixture
def birth(db) -> Procedure:
    """Birth registration of the demo catalogue: commune level, by post allowed."""
    procedure = Procedure.objects.select_related("agency").get(code="1.001193")
    assert procedure.level == "commune" and procedure.postal_submission_allowed
    return procedure


def _province_procedure() -> Procedure:
    return Procedure.objects.filter(level="province", is_active=True).order_by("code").first()


def test_kinh_bac_address_gets_its_own_ward_desk_not_the_nearest(api, tapped, birth):
    lon, lat = tapped
    # The plain nearest look-up indeed answers Vũ Ninh's desk from here.
    nearest = api.get("/api/v1/service-points/nearest/", {"lon": lon, "lat": lat, "kind": "commune_desk", "limit": 1})
    assert nearest.json()["features"][0]["properties"]["code"] == f"DESK-{VU_NINH}"

    response = api.get(DESKS.format(code=birth.code), {"lon": lon, "lat": lat})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["commune"]["code"] == KINH_BAC
    features = body["features"]
    receiving = [f["properties"] for f in features if f["properties"]["role"] == "receiving"]
    first = receiving[0]
    assert (first["code"], first["proposed"]) == (f"DESK-{KINH_BAC}", True)
    assert [p["proposed"] for p in receiving[1:]] == [False] * (len(receiving) - 1)
    assert "Kinh Bắc" in first["reason"]["vi"] and "Kinh Bắc" in first["reason"]["en"]
    assert "commune-level" in first["reason"]["en"]
    # The desks that may receive it: that ward's desk, then every provincial centre (by distance).
    centres = list(ServicePoint.objects.filter(kind="provincial_centre", is_active=True))
    assert {p["code"] for p in receiving} == {f"DESK-{KINH_BAC}", *(c.code for c in centres)}
    assert f"DESK-{VU_NINH}" not in {f["properties"]["code"] for f in features}
    assert body["other_commune_desks"]["may_receive"] is False
    assert "Kinh Bắc" in body["other_commune_desks"]["reason"]["en"]
    assert [p["kind"] for p in receiving[1:]] == ["provincial_centre"] * len(centres)
    centre_metres = [p["distance_m"] for p in receiving[1:]]
    assert centre_metres == sorted(centre_metres)
    # The desk really sits in the ward (shapely), as the address does.
    desk = ServicePoint.objects.get(code=first["code"])
    assert _shape(KINH_BAC).contains(ShapelyPoint(desk.geom.x, desk.geom.y))
    assert _shape(KINH_BAC).contains(ShapelyPoint(lon, lat))
    # Distances are geodesic metres (pyproj) to within a centimetre.
    by_code = {p.code: p for p in ServicePoint.objects.filter(code__in=[f["properties"]["code"] for f in features])}
    for feature in features:
        props = feature["properties"]
        assert props["distance_m"] == pytest.approx(_metres(lon, lat, by_code[props["code"]]), abs=0.1)
    # By post allowed: the two nearest post offices follow as drop-off points, nearest first.
    posts = [f["properties"] for f in features if f["properties"]["role"] == "postal_drop_off"]
    all_posts = sorted(ServicePoint.objects.filter(kind="post_office"), key=lambda p: _metres(lon, lat, p))
    assert [p["code"] for p in posts] == [p.code for p in all_posts[:2]]
    assert features[-len(posts) :] == [f for f in features if f["properties"]["role"] == "postal_drop_off"]


def test_a_vu_ninh_address_gets_vu_ninh_s_desk(api, birth):
    ward = _shape(VU_NINH)
    inside = ward.representative_point()
    body = api.get(DESKS.format(code=birth.code), {"lon": inside.x, "lat": inside.y}).json()
    assert body["commune"]["code"] == VU_NINH
    first = body["features"][0]["properties"]
    assert (first["code"], first["proposed"], first["role"]) == (f"DESK-{VU_NINH}", True, "receiving")
    assert f"DESK-{KINH_BAC}" not in {f["properties"]["code"] for f in body["features"]}


def test_a_province_level_procedure_proposes_the_nearest_centre(api, tapped):
    procedure = _province_procedure()
    lon, lat = tapped
    body = api.get(DESKS.format(code=procedure.code), {"lon": lon, "lat": lat}).json()
    features = body["features"]
    assert body["other_commune_desks"]["may_receive"] is True
    centres = sorted(
        ServicePoint.objects.filter(kind="provincial_centre", is_active=True), key=lambda p: _metres(lon, lat, p)
    )
    codes = [f["properties"]["code"] for f in features if f["properties"]["role"] == "receiving"]
    # The centres by distance, then the ward's own desk (Decree 118/2025).
    assert codes == [*(c.code for c in centres), f"DESK-{KINH_BAC}"]
    assert features[0]["properties"]["proposed"] is True
    assert "province-level" in features[0]["properties"]["reason"]["en"]
    assert "Decree 118/2025" in features[len(codes) - 1]["properties"]["reason"]["en"]


def test_a_procedure_of_one_commune_s_committee_goes_to_that_desk(api, tapped, birth):
    committee = Agency.objects.create(
        code="ubnd-phuong-vu-ninh-t15", name="UBND phường Vũ Ninh", kind="peoples_committee", admin_unit_code=VU_NINH
    )
    procedure = Procedure.objects.create(
        code="9.915001",
        name="Thủ tục riêng của phường Vũ Ninh (thử)",
        sector=birth.sector,
        agency=committee,
        level="commune",
        online_level="partial",
        processing_days=3,
        postal_submission_allowed=False,
    )
    lon, lat = tapped  # in Kinh Bắc, but only Vũ Ninh's committee decides it
    first = api.get(DESKS.format(code=procedure.code), {"lon": lon, "lat": lat}).json()["features"][0]["properties"]
    assert first["code"] == f"DESK-{VU_NINH}" and "UBND phường Vũ Ninh" in first["reason"]["vi"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 21.18}, "lon"),
        ({"lon": 106.07}, "lat"),
        ({"lon": "abc", "lat": 21.18}, "lon"),
        ({"lon": 106.07, "lat": 91}, "lat"),
        ({"lon": 105.0, "lat": 10.8}, "lon"),  # Hồ Chí Minh City: outside the province
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, birth, params, field):
    response = api.get(DESKS.format(code=birth.code), params)
    assert response.status_code == 400
    body = response.json()
    assert field in body and " / " in body[field][0]  # Vietnamese / English


def test_unknown_procedure_is_a_404(api):
    response = api.get(DESKS.format(code="9.999999"), {"lon": 106.07, "lat": 21.18})
    assert response.status_code == 404 and "9.999999" in response.json()["detail"]


@override_settings(PUBLIC_LOOKUP_RATE="3/min")
def test_desks_beyond_the_rate_is_429(api, birth):
    cache.clear()
    url = DESKS.format(code=birth.code)
    params = {"lon": 106.07, "lat": 21.18}
    assert [api.get(url, params).status_code for _ in range(3)] == [200, 200, 200]
    assert api.get(url, params).status_code == 429
    cache.clear()


# --- the submission agrees with the answer --------------------------------------------


@pytest.fixture
def commune_procedure(catalogue) -> Procedure:
    """A commune-level procedure of the tests' own catalogue (no required components)."""
    assert catalogue.commune.level == "commune"
    return catalogue.commune


def _body(api_payload, procedure, point_code, lon, lat):
    return api_payload(procedure=procedure.code, receiving_point=point_code, lon=lon, lat=lat)


def test_a_citizen_s_birth_registration_at_vu_ninh_s_desk_is_refused(api_payload, people, client_as, birth, tapped):
    lon, lat = tapped
    before = (Dossier.objects.count(), DossierEvent.objects.count())
    response = client_as(people.citizen_a).post(
        DOSSIERS, _body(api_payload, birth, f"DESK-{VU_NINH}", lon, lat), format="json"
    )
    assert response.status_code == 400
    errors = response.json()["receiving_point"]
    assert "Kinh Bắc" in errors[0] and "Vũ Ninh" in errors[0] and " / " in errors[0]
    assert (Dossier.objects.count(), DossierEvent.objects.count()) == before  # nothing written


def test_the_same_dossier_at_the_ward_s_own_desk_or_a_centre_is_received(
    api_payload, people, client_as, commune_procedure, tapped
):
    birth = commune_procedure
    lon, lat = tapped
    for point in (f"DESK-{KINH_BAC}", "CENTRE-MAIN"):
        response = client_as(people.citizen_a).post(DOSSIERS, _body(api_payload, birth, point, lon, lat), format="json")
        assert response.status_code == 201, response.json()
        dossier = Dossier.objects.get(code=response.json()["code"])
        assert (dossier.receiving_point.code, dossier.applicant_commune.code) == (point, KINH_BAC)


def test_without_an_address_the_desk_is_not_questioned(api_payload, people, client_as, commune_procedure):
    birth = commune_procedure
    body = api_payload(procedure=birth.code, receiving_point=f"DESK-{VU_NINH}")
    response = client_as(people.citizen_a).post(DOSSIERS, body, format="json")
    assert response.status_code == 201, response.json()


def test_a_province_level_dossier_may_still_name_any_commune_desk(api_payload, people, client_as, tapped):
    lon, lat = tapped
    procedure = _province_procedure()
    response = client_as(people.citizen_a).post(
        DOSSIERS, _body(api_payload, procedure, f"DESK-{VU_NINH}", lon, lat), format="json"
    )
    assert response.status_code == 201, response.json()
