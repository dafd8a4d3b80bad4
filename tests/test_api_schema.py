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


# --- the schema says what the server answers ---------------------------------------


def _operations(api):
    paths = api.get("/api/schema/").json()["paths"]
    return [(path, method, operation) for path, ops in paths.items() for method, operation in ops.items()]


def test_public_operations_declare_that_no_credentials_are_needed(api):
    paths = api.get("/api/schema/").json()["paths"]
    # /layers/ reads a token (to show internal layers to officials) but is public.
    assert {} in paths["/api/v1/layers/"]["get"]["security"]
    assert {"tokenAuth": []} in paths["/api/v1/layers/"]["get"]["security"]
    assert {} in paths["/api/v1/service-points/nearest/"]["get"]["security"]
    assert {} in paths["/api/v1/layers/{slug}/features/"]["get"]["security"]
    # ...while these refuse anonymous callers.
    for path, method in (
        ("/api/v1/dossiers/", "get"),
        ("/api/v1/dossiers/{code}/transitions/", "post"),
        ("/api/v1/stats/dossiers/", "get"),
        ("/api/v1/layers/{slug}/features/", "post"),
        ("/api/v1/layers/{slug}/features/{feature_id}/", "delete"),
    ):
        security = paths[path][method]["security"]
        assert security and {} not in security, (path, method)
    # And the server agrees: anonymous callers get 200 and 401.
    assert api.get("/api/v1/layers/").status_code == 200
    assert api.get("/api/v1/dossiers/").status_code == 401


def test_every_operation_declares_its_error_answers_with_their_bodies(api):
    schema = api.get("/api/schema/").json()
    assert set(schema["components"]["schemas"]) >= {"Error", "FieldErrors"}
    for path, method, operation in _operations(api):
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        # A NUL in any parameter is a 400 before any view: every operation.
        assert "400" in responses, where
        assert responses["400"]["content"]["application/json"]["schema"]["anyOf"], where
        if "{" in path:
            assert "404" in responses, where
        security = operation.get("security") or []
        if any("tokenAuth" in scheme for scheme in security):
            assert {"401", "403"} <= responses.keys(), where
        for code in ("401", "403", "429"):
            if code in responses:
                assert responses[code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, where
    paths = schema["paths"]
    assert "429" in paths["/api/v1/service-points/nearest/"]["get"]["responses"]
    assert "409" in paths["/api/v1/dossiers/{code}/transitions/"]["post"]["responses"]
    assert "422" in paths["/api/v1/dossiers/"]["post"]["responses"]


# (path, the page-size parameter's bounds as the README states them)
PAGED = [
    ("/api/v1/admin-units/", 1, 10_000),
    ("/api/v1/service-points/", 1, 10_000),
    ("/api/v1/layers/{slug}/features/", 1, 10_000),
    ("/api/v1/procedures/", 1, 100),
    ("/api/v1/service-points/nearest/", 1, 50),
]


def test_page_sizes_have_the_bounds_the_server_enforces(api):
    paths = api.get("/api/schema/").json()["paths"]
    for path, low, high in PAGED:
        (limit,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == "limit"]
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (low, high), path
        url = path.replace("{slug}", "schools")
        extra = {"lon": "106.07", "lat": "21.18"} if "nearest" in path else {}
        for bad in (low - 1, high + 1):
            response = api.get(url, {**extra, "limit": bad})
            assert (response.status_code, list(response.json())) == (400, ["limit"]), (path, bad)
        assert api.get(url, {**extra, "limit": high}).status_code == 200, path


def test_ogc_limit_is_capped_not_refused(api):
    # OGC API Features /req/core/fc-limit-response-1: larger values are capped.
    response = api.get("/ogc/collections/schools/items", {"limit": 20_000, "f": "json"})
    assert response.status_code == 200
    assert response.json()["numberReturned"] <= 10_000
    assert api.get("/ogc/collections/schools/items", {"limit": 0, "f": "json"}).status_code == 400


def test_an_unknown_api_url_is_a_json_404(api):
    for url in ("/api/v1/admin-units/%C3%A9/", "/api/v1/nothing/", "/ogc/nothing/here"):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"].startswith("application/json"), url
        assert " / " in response.json()["detail"]
