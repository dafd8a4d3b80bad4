"""GET /api/v1/procedures/ and /api/v1/procedures/{code}/: public, paged,
best match first, every bad parameter named."""

import json
from urllib.parse import quote

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.catalogue import catalogue_demo_load
from dossiers.models import Procedure
from tests.lean import (
    BEHIND_TLS_PROXY,
    HTTPS,
    VARIANTS,
    answered_lean_as_django,
    assert_same,
    call,
    environ,
    refused_alike,
)

LIST = "/api/v1/procedures/"
BIRTH = "1.001193"

BRIEF_FIELDS = {
    "code",
    "name",
    "sector",
    "agency",
    "level",
    "online_level",
    "old_online_level",
    "processing_days",
    "fee_vnd",
    "postal_submission_allowed",
    "postal_result_allowed",
    "url",
}
DETAIL_FIELDS = BRIEF_FIELDS | {"required_documents", "forms", "legal_basis", "result", "fee_note", "is_demo_values"}


@pytest.fixture(scope="module", autouse=True)
def catalogue(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        catalogue_demo_load()


def test_list_is_public_paged_and_complete(api):
    response = api.get(LIST)
    assert response.status_code == 200
    body = response.json()
    active = Procedure.objects.filter(is_active=True).count()
    assert body["count"] == active
    assert len(body["results"]) == 20 and body["previous"] is None
    assert "offset=20" in body["next"] and "limit=20" in body["next"]
    first = body["results"][0]
    assert set(first) >= BRIEF_FIELDS
    assert set(first["sector"]) == {"code", "name"} and set(first["agency"]) == {"code", "name"}
    assert first["url"].endswith(f"/api/v1/procedures/{first['code']}/")

    codes = set()
    url = LIST + "?limit=100"
    while url:
        page = api.get(url).json()
        codes |= {p["code"] for p in page["results"]}
        url = page["next"]
    assert len(codes) == active


@pytest.mark.parametrize("query", ["khai sinh", "Khai Sinh", "dang ky khai sinh", "ĐĂNG KÝ KHAI SINH", BIRTH])
def test_search_puts_birth_registration_first(api, query):
    body = api.get(LIST, {"q": query}).json()
    assert body["results"][0]["code"] == BIRTH
    assert body["results"][0]["name"] == "Đăng ký khai sinh"


def test_filters_combine_and_are_applied(api):
    body = api.get(LIST, {"sector": "ho-tich", "level": "commune", "online_level": "partial", "limit": 100}).json()
    expected = Procedure.objects.filter(
        is_active=True, sector__code="ho-tich", level="commune", online_level="partial"
    ).count()
    assert body["count"] == len(body["results"]) == expected > 0
    for result in body["results"]:
        assert (result["sector"]["code"], result["level"], result["online_level"]) == ("ho-tich", "commune", "partial")

    body = api.get(LIST, {"q": "ket hon", "agency": "ubnd-huyen"}).json()
    assert {r["code"] for r in body["results"]} == {"2.000806", "2.000513", "2.002189"}
    assert all(r["agency"]["code"] == "ubnd-huyen" and r["level"] == "district" for r in body["results"])


@pytest.mark.parametrize(
    "params, names",
    [
        ({"sector": "khong-co"}, {"sector"}),
        ({"agency": "so-khong-co"}, {"agency"}),
        ({"level": "village"}, {"level"}),
        ({"online_level": "4"}, {"online_level"}),
        ({"limit": "0"}, {"limit"}),
        ({"limit": "abc", "offset": "-1"}, {"limit", "offset"}),
        ({"q": "x" * 201}, {"q"}),
        ({"sector": "x", "level": "y", "online_level": "z"}, {"sector", "level", "online_level"}),
    ],
)
def test_bad_parameters_are_each_named_in_a_400(api, params, names):
    response = api.get(LIST, params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == names
    for messages in body.values():
        assert messages and all(" / " in m for m in messages)


def test_offset_past_the_end_gives_an_empty_page_with_a_way_back(api):
    body = api.get(LIST, {"offset": 10_000}).json()
    assert body["results"] == [] and body["next"] is None and body["previous"]


def test_detail_has_every_field(api):
    response = api.get(f"{LIST}{BIRTH}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= DETAIL_FIELDS
    assert body["name"] == "Đăng ký khai sinh"
    assert body["sector"] == {"code": "ho-tich", "name": "Hộ tịch"}
    assert body["agency"]["code"] == "ubnd-xa"
    assert (body["level"], body["online_level"], body["old_online_level"]) == ("commune", "full", 4)
    assert body["fee_vnd"] == 0 and body["is_demo_values"] is False
    assert any("Giấy chứng sinh" in d for d in body["required_documents"])
    assert body["forms"] and all(set(f) == {"title", "url"} and f["url"].startswith("https://") for f in body["forms"])
    assert "Luật Hộ tịch" in body["legal_basis"]


def test_unknown_or_inactive_code_is_a_404(api):
    response = api.get(f"{LIST}9.999999/")
    assert response.status_code == 404
    assert " / " in response.json()["detail"]
    Procedure.objects.filter(code=BIRTH).update(is_active=False)
    assert api.get(f"{LIST}{BIRTH}/").status_code == 404


def test_list_and_detail_cost_a_fixed_number_of_queries(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # count + page
        assert api.get(LIST, {"q": "khai sinh", "limit": 100}).status_code == 200
    with django_assert_max_num_queries(2):
        assert api.get(LIST, {"limit": 100, "level": "commune"}).status_code == 200
    with django_assert_max_num_queries(4):  # + one existence check per named sector / agency
        assert api.get(LIST, {"sector": "ho-tich", "agency": "ubnd-xa", "limit": 100}).status_code == 200
    with django_assert_max_num_queries(2):  # procedure + forms
        assert api.get(f"{LIST}{BIRTH}/").status_code == 200


def test_schema_lists_the_catalogue_endpoints(api):
    paths = api.get("/api/schema/").json()["paths"]
    assert "/api/v1/procedures/" in paths and "/api/v1/procedures/{code}/" in paths
    names = {p["name"] for p in paths["/api/v1/procedures/"]["get"]["parameters"]}
    assert {"q", "sector", "agency", "level", "online_level", "limit", "offset"} <= names


hostile = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="\x00\x01\t %_\\'\"ĐđÝý.0123456789", max_size=30),
    st.just("1.001193"),
    st.just("ho-tich"),
    st.just("commune"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_query_string_causes_a_server_error(api, data):
    names = ["q", "sector", "agency", "level", "online_level", "limit", "offset"]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    params = {name: data.draw(hostile) for name in chosen}
    response = api.get(LIST, params)
    assert response.status_code in (200, 400), (params, response.status_code)
    if response.status_code == 400:
        assert set(response.json()) <= set(params), (params, response.json())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.text(min_size=1, max_size=100))
def test_no_procedure_code_causes_a_server_error(api, client, code):
    # A NUL is refused as such before any view (gisportal.unstorable): 400.
    found = (400,) if "\x00" in code else (200, 404)
    assert api.get(f"{LIST}{quote(code, safe='')}/").status_code in found
    assert client.get(f"/procedures/{quote(code, safe='')}/").status_code in found
    listed = client.get("/procedures/", {"q": code, "sector": code, "page": code}).status_code
    assert listed == (400 if "\x00" in code else 200)


# --- the lean path (gisportal/fastpath.py): the server's application answers a search in front of Django

LEAN_SEARCHES = [
    {"q": "khai sinh"},
    {"q": "KHAI SINH", "limit": "3", "offset": "2", "lang": "en"},  # next and previous links
    {"level": "commune", "online_level": "partial", "limit": "100"},
    {"q": BIRTH},
    {},
    {"q": "không có thủ tục nào như vậy"},
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("query", LEAN_SEARCHES)
def test_a_lean_search_gives_django_s_answer(wsgi, query, variant):
    with override_settings(**BEHIND_TLS_PROXY):
        status, _, body = answered_lean_as_django(wsgi, environ(query, path=LIST, **VARIANTS[variant]))
    if variant == "plain http":
        assert status.startswith("301")
        return
    assert status == "200 OK"
    body = json.loads(body)
    expected = Procedure.objects.filter(is_active=True)
    if query.get("level"):
        expected = expected.filter(level=query["level"], online_level=query["online_level"])
    if not query.get("q"):
        assert body["count"] == expected.count()
    if query.get("q") in ("khai sinh", BIRTH):
        assert body["results"][0]["code"] == BIRTH


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"sector": "ho-tich", "q": "khai sinh"}, None),  # codes checked against their tables: Django's path
        ({"agency": "khong-co"}, {"agency"}),
        ({"limit": "0", "level": "planet"}, {"limit", "level"}),
        ({"q": "a\x07b"}, {"q"}),
    ],
)
def test_a_search_by_sector_or_agency_or_with_a_bad_parameter_goes_to_django(wsgi, query, names):
    with override_settings(**BEHIND_TLS_PROXY):
        lean, behind, django = wsgi()
        env = environ(query, path=LIST, **HTTPS)
        lean_answer = call(lean, env)
        assert_same(lean_answer, call(django, env))
    assert behind.calls == 1
    if names is None:
        assert lean_answer[0] == "200 OK"
    else:
        assert lean_answer[0].startswith("400") and set(json.loads(lean_answer[2])) == names


@override_settings(**BEHIND_TLS_PROXY, PUBLIC_LOOKUP_RATE="3/min")
def test_a_lean_search_counts_and_refuses_as_the_view(wsgi):
    lean, behind, django = wsgi()
    refused_alike(lean, django, environ({"q": "khai sinh"}, path=LIST, **HTTPS))
    assert behind.calls == 0


def test_each_briefs_urls_are_djangos_reverse_of_its_code(api, db):
    """The list makes each procedure's two URLs from one reverse a page
    (`_ProcedureUrls`); they are what reversing each code gives, a code
    that a path quotes (a space, a Vietnamese letter) included."""
    from django.urls import reverse

    odd = Procedure.objects.filter(is_active=True).order_by("code").first()
    Procedure.objects.filter(pk=odd.pk).update(code="Mã thử 1")
    body = api.get(LIST, {"limit": 100}).json()
    assert body["count"] > 100  # more than one page
    seen = []
    while True:
        for brief in body["results"]:
            api_path = reverse("api-procedure-detail", args=[brief["code"]])
            page_path = reverse("procedure-detail", args=[brief["code"]])
            assert brief["url"] == f"http://testserver{api_path}", brief
            assert brief["page_url"] == f"http://testserver{page_path}", brief
            seen.append(brief["code"])
        if not body["next"]:
            break
        body = api.get(body["next"]).json()
    assert len(seen) == body["count"] and "Mã thử 1" in seen
    assert quote("Mã thử 1") in reverse("api-procedure-detail", args=["Mã thử 1"])  # quoted, so not the plain case
