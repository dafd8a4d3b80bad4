"""The pages of issue #15's walk-through on a 390 px phone (Debian's
chromium through Playwright, the project's own server): nothing sticks out
sideways; the header is one compact row whose menu unfolds under "Menu"
(without JavaScript too); the cards of "Hồ sơ của tôi" and of the worklist
keep each label inside its own row; the catalogue shows its first result
without scrolling; the OGC items table scrolls inside itself."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import chromium, new_page, session_delete, session_key_for
from tests.committed_dossiers import committed_dossiers

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
HEADER_MAX_PX = 64

# Card cells whose value overlaps its label: the label (the cell's ::before)
# fills the first grid column (or, in the actions cell, the first row), so
# the value's boxes (a Range over the cell's children) must start right of
# it (or below it) and stay inside the cell.
LABELS_OVER_VALUES = """() => [...document.querySelectorAll('.dossier-table td')]
    .filter((td) => td.offsetParent !== null && td.dataset.label)
    .filter((td) => {
        const style = getComputedStyle(td);
        const tracks = style.gridTemplateColumns.split(' ').map(parseFloat);
        if (style.display !== 'grid') return true;  // no label column or row at all
        const cell = td.getBoundingClientRect();
        const contentTop = cell.top + parseFloat(style.paddingTop);
        // Two columns: the value starts right of the label; one column (the
        // actions): the value starts below the label's row.
        const labelRight = tracks.length === 2 ? cell.left + parseFloat(style.paddingLeft) + tracks[0] : -Infinity;
        const labelBottom = tracks.length === 2 ? -Infinity : contentTop + parseFloat(style.fontSize) * 0.8;
        const range = document.createRange();
        range.selectNodeContents(td);
        return [...range.getClientRects()].some((box) => box.width > 0
            && (box.left < labelRight - 0.5 || box.top < labelBottom || box.right > cell.right + 0.5));
    })
    .map((td) => td.dataset.label)"""

# Cells whose content (the label included) runs past their own box.
SPILLING_CELLS = """() => [...document.querySelectorAll('.dossier-table td')]
    .filter((td) => td.offsetParent !== null && td.scrollHeight > td.clientHeight + 1)
    .map((td) => td.dataset.label)"""


@pytest.fixture(scope="module")
def people(django_db_setup, django_db_blocker) -> Iterator[dict]:
    with committed_dossiers(django_db_blocker) as made:
        with django_db_blocker.unblock():
            made.submit(applicant_name="Nguyễn Thị Phương Thảo Hoàng Minh Châu")
            made.submit()
            sessions = {"citizen": session_key_for(made.citizen), "desk": session_key_for(made.desk)}
        yield sessions
        with django_db_blocker.unblock():
            for key in sessions.values():
                session_delete(key)


@pytest.fixture(scope="module")
def browser(people) -> Iterator[Browser]:
    yield from chromium()


def _fits(page) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390  # nothing sticks out sideways


def _compact_header(page) -> None:
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= HEADER_MAX_PX, header
    expect(page.locator("#site-nav")).to_be_hidden()


@pytest.mark.django_db  # makes pytest-django create the test database the server uses
def test_the_worklist_needs_a_sign_in(client):
    assert client.get("/worklist/").status_code == 302


@pytest.mark.browser
def test_my_dossiers_and_the_menu_on_a_phone(people, browser, live_server_url):
    page, errors = new_page(browser, live_server_url, session_key=people["citizen"], **PHONE)
    page.goto(f"{live_server_url}/dossiers/mine/")
    _compact_header(page)
    expect(page.locator("#dossier-list tbody tr")).to_have_count(2)
    assert page.evaluate(SPILLING_CELLS) == []
    assert page.evaluate(LABELS_OVER_VALUES) == []
    _fits(page)
    page.mouse.wheel(0, 600)  # the header stays compact while scrolling
    _compact_header(page)
    page.mouse.wheel(0, -600)
    page.locator(".nav-toggle-button").click()
    expect(page.get_by_role("link", name="Hồ sơ của tôi")).to_be_visible()
    _fits(page)
    assert errors == []


@pytest.mark.browser
def test_the_menu_unfolds_without_javascript(people, browser, live_server_url):
    page, errors = new_page(browser, live_server_url, java_script_enabled=False, **PHONE)
    page.goto(f"{live_server_url}/procedures/")
    _compact_header(page)
    page.locator(".nav-toggle-button").click()
    expect(page.get_by_role("link", name="Đăng nhập")).to_be_visible()


@pytest.mark.browser
def test_the_worklist_on_a_phone(people, browser, live_server_url):
    page, errors = new_page(browser, live_server_url, session_key=people["desk"], **PHONE)
    page.goto(f"{live_server_url}/worklist/?status=received")
    _compact_header(page)
    expect(page.locator("#worklist tbody tr").first).to_be_visible()
    assert page.evaluate(SPILLING_CELLS) == []
    assert page.evaluate(LABELS_OVER_VALUES) == []
    _fits(page)
    # A refusal asks for the reason and a ticked confirmation before it is sent.
    row = page.locator("#worklist tbody tr").first
    row.locator("details.action-note summary", has_text="Từ chối").click()
    form = row.locator("details[open] form")
    expect(form.locator("input[name=confirm]")).to_have_attribute("required", "")
    _fits(page)
    assert errors == []


@pytest.mark.browser
def test_the_catalogue_shows_its_first_result_on_a_phone(people, browser, live_server_url):
    page, errors = new_page(browser, live_server_url, **PHONE)
    page.goto(f"{live_server_url}/procedures/")
    first = page.locator(".procedure-result").first
    expect(first).to_be_visible()
    box = first.bounding_box()
    assert box["y"] + 40 < 844, box  # its name is on the first screen
    _fits(page)
    page.locator("#catalogue-more summary").click()
    expect(page.locator("#procedure-sector")).to_be_visible()
    assert errors == []


@pytest.mark.browser
def test_the_ogc_items_table_scrolls_inside_itself(people, browser, live_server_url):
    page, errors = new_page(browser, live_server_url, ignore_failed_loads_outside=live_server_url, **PHONE)
    page.goto(f"{live_server_url}/ogc/collections/schools/items?f=html&limit=20")
    table = page.locator(".table-scroll")
    expect(table).to_be_visible()
    _fits(page)
    assert page.evaluate("document.querySelector('.table-scroll').scrollWidth") > 390  # the table is wide
