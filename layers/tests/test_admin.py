"""Administrators edit service points in the admin, on a map that needs no CDN."""

from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point

from layers.models import ServicePoint


def _admin_client(client):
    user = get_user_model().objects.create_superuser("root-admin", "a@example.invalid", "x-Strong-pass-1")
    client.force_login(user)
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
