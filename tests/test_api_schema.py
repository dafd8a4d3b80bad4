"""The OpenAPI schema and its browsable docs are served, offline."""


def test_schema_lists_the_public_endpoints(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    for path in (
        "/api/v1/admin-units/",
        "/api/v1/admin-units/{code}/",
        "/api/v1/service-points/",
        "/api/v1/service-points/nearest/",
    ):
        assert path in paths
    nearest = {p["name"] for p in paths["/api/v1/service-points/nearest/"]["get"]["parameters"]}
    assert {"lon", "lat", "kind", "limit"} <= nearest


def test_docs_page_uses_local_assets(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_schema_is_also_served_as_yaml(api):
    response = api.get("/api/schema.yaml")
    assert response.status_code == 200
    assert response.content.startswith(b"openapi:")
