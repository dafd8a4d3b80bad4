"""The registry upload page (Debian's chromium through Playwright): adding
to the layer is the default, replacing it asks for a ticked confirmation
before anything is sent, and each layer offers a CSV template with its
columns. No worker is needed: nothing is imported here."""

import csv
import io
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import chromium, new_page, registry_editor

SCHEMA = [
    {"name": "ten_tram", "type": "string", "title": "Tên trạm / Name"},
    {"name": "so_giuong", "type": "integer", "title": "Số giường / Beds"},
]


@pytest.fixture(scope="module")
def editor(django_db_setup, django_db_blocker) -> Iterator[dict]:
    with registry_editor(django_db_blocker, title="Trạm thử mẫu / Template clinics", schema=SCHEMA) as made:
        yield made


@pytest.fixture(scope="module")
def browser(editor) -> Iterator[Browser]:
    yield from chromium()


@pytest.mark.django_db
def test_the_template_is_only_for_editors(client, make_user):
    client.force_login(make_user("template-citizen"))
    assert client.get("/registries/upload/anything/template.csv").status_code == 404


@pytest.mark.browser
def test_append_by_default_and_a_replace_needs_confirming(editor, browser, live_server_url, tmp_path):
    layer = editor["layer"]
    page, errors = new_page(browser, live_server_url, session_key=editor["session"])
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and "/imports/" in r.url and posts.append(r.url))
    page.goto(f"{live_server_url}/registries/upload/")
    page.select_option("#layer-select", layer.slug)
    expect(page.locator("#mode-select")).to_have_value("append")
    expect(page.locator("#replace-confirm")).to_be_hidden()

    # The template: the geometry columns, then the layer's fields.
    link = page.locator("#template-link")
    expect(link).to_have_attribute("href", f"/registries/upload/{layer.slug}/template.csv")
    answer = page.request.get(f"{live_server_url}/registries/upload/{layer.slug}/template.csv")
    assert answer.status == 200 and answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert next(csv.reader(io.StringIO(answer.text().lstrip("\ufeff")))) == ["lon", "lat", "ten_tram", "so_giuong"]

    path = tmp_path / "one.csv"
    path.write_text("lon,lat,ten_tram\n106.07,21.18,Trạm A\n", encoding="utf-8")
    page.set_input_files("#file-input", str(path))
    page.select_option("#mode-select", "replace")
    expect(page.locator("#replace-confirm")).to_be_visible()
    page.locator("#upload-button").click()
    expect(page.locator("#import-error")).to_contain_text("Đánh dấu ô")
    page.wait_for_timeout(300)
    assert posts == []  # nothing was sent
    assert errors == []
