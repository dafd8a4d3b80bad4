"""The communes' list is kept per version of the units (migration 0007):
every change moves the version, including raw SQL and a change that is then
rolled back, and the kept answer goes out gzip-encoded to clients that ask."""

import gzip

import pytest
from django.core.cache import cache
from django.db import connection, transaction

from layers.models import AdministrativeUnit
from layers.selectors import units_version

URL = "/api/v1/admin-units/"
PARAMS = {"level": "commune", "era": "2025", "geometry": "simplified", "limit": 500}


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _names(api) -> dict[str, str]:
    response = api.get(URL, PARAMS)
    assert response.status_code == 200
    return {f["properties"]["code"]: f["properties"]["name"] for f in response.json()["features"]}


@pytest.fixture
def commune(db) -> AdministrativeUnit:
    return AdministrativeUnit.objects.filter(era="2025", level="commune").order_by("code").first()


def test_an_edit_through_the_orm_or_raw_sql_is_seen_at_once(api, fresh_cache, commune):
    before = _names(api)
    assert before[commune.code] == commune.name
    version = units_version()
    AdministrativeUnit.objects.filter(pk=commune.pk).update(name="Phường Thử Nghiệm")
    assert units_version() != version
    assert _names(api)[commune.code] == "Phường Thử Nghiệm"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE layers_administrativeunit SET name = %s WHERE id = %s", ["Phường Sửa Tay", commune.pk])
    assert _names(api)[commune.code] == "Phường Sửa Tay"
    # The rest of the page is as it was.
    after = _names(api)
    assert {k: v for k, v in after.items() if k != commune.code} == {
        k: v for k, v in before.items() if k != commune.code
    }


def test_a_rolled_back_change_never_lends_its_version_to_another(api, fresh_cache, commune):
    assert _names(api)[commune.code] == commune.name
    with pytest.raises(RuntimeError), transaction.atomic():
        AdministrativeUnit.objects.filter(pk=commune.pk).update(name="Phường Bỏ Dở")
        assert _names(api)[commune.code] == "Phường Bỏ Dở"  # kept under this change's version
        raise RuntimeError("rolled back")
    assert _names(api)[commune.code] == commune.name
    # Another change: a version of its own (a sequence), not the rolled-back one's answer.
    AdministrativeUnit.objects.filter(pk=commune.pk).update(name="Phường Đổi Thật")
    assert _names(api)[commune.code] == "Phường Đổi Thật"


def test_the_kept_answer_is_sent_gzip_encoded_to_who_asks(api, fresh_cache, commune):
    plain = api.get(URL, PARAMS)
    assert plain.get("Content-Encoding") is None
    packed = api.get(URL, PARAMS, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / 3
    # A request with a token is never compressed (gisportal.compression's rule).
    tokened = api.get(URL, PARAMS, HTTP_ACCEPT_ENCODING="gzip", HTTP_AUTHORIZATION="Token x")
    assert tokened.get("Content-Encoding") is None
    assert tokened.content == plain.content


def test_the_page_links_follow_the_host_asked(api, fresh_cache):
    small = {**PARAMS, "limit": 5}
    one = api.get(URL, small, HTTP_HOST="portal.example.vn").json()
    other = api.get(URL, small, HTTP_HOST="127.0.0.1").json()
    assert one["next"].startswith("http://portal.example.vn/")
    assert other["next"].startswith("http://127.0.0.1/")


def test_the_answer_is_kept_in_the_process_too_and_a_change_still_shows(api, fresh_cache, commune, monkeypatch):
    """gisportal.api.RecentAnswers: the second request does not go to the
    shared cache (350 KB from Redis, unpickled); an edit moves the version
    and so the key, in memory as in the shared cache."""
    from gisportal import api as api_module

    api_module.recent_answers.clear()
    shared_reads = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda key, *a, **k: shared_reads.append(key) or real_get(key, *a, **k))
    first = api.get(URL, PARAMS).content
    assert len(shared_reads) == 1
    assert api.get(URL, PARAMS).content == first
    assert len(shared_reads) == 1  # answered from this process's memory
    AdministrativeUnit.objects.filter(pk=commune.pk).update(name="Phường Trong Bộ Nhớ")
    assert _names(api)[commune.code] == "Phường Trong Bộ Nhớ"
    assert len(shared_reads) == 2


def test_without_a_memory_budget_every_answer_comes_from_the_shared_cache(api, fresh_cache, settings, monkeypatch):
    from gisportal import api as api_module

    settings.PUBLIC_ANSWER_MEMORY_BYTES = 0
    api_module.recent_answers.clear()
    shared_reads = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda key, *a, **k: shared_reads.append(key) or real_get(key, *a, **k))
    api.get(URL, PARAMS)
    api.get(URL, PARAMS)
    assert len(shared_reads) == 2
