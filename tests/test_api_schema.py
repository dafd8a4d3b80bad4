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


def test_schema_describes_the_sign_in_and_token_endpoints(api):
    schema = api.get("/api/schema/").json()
    paths = schema["paths"]
    token = paths["/api/v1/auth/token/"]["post"]
    assert {"200", "400", "429"} <= set(token["responses"])
    assert "security" not in token  # signing in needs no credentials
    assert set(schema["components"]["schemas"]["Token"]["required"]) == {"token", "expiry", "id"}
    assert "get" in paths["/api/v1/auth/tokens/"]
    assert {"204", "401", "404"} <= set(paths["/api/v1/auth/tokens/{token_id}/"]["delete"]["responses"])
    for path in ("/api/v1/auth/logout/", "/api/v1/auth/logoutall/"):
        assert paths[path]["post"]["security"] == [{"tokenAuth": []}]
    # The token scheme is still described, under the name it always had.
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert {"tokenAuth": []} in paths["/api/v1/dossiers/"]["get"]["security"]
