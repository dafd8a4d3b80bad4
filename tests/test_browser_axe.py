"""Accessibility: axe-core (vendored in tests/axe/, see its README) over
every page of tests/pages_catalogue.py, as the user who sees it, in
Vietnamese and English, at 1280 px and at 390 px, with the WCAG 2.1 A and
AA rules. No serious or critical violation may be left; the failure lists
page, width, language, rule and the first element concerned.

One browser, one context per kind of user; each page is loaded once per
language and checked at both widths (the viewport is resized in place: the
layout follows the media queries without a reload). At 390 px the page must
also not be wider than the screen, and the site header not taller than 100 px.

Left out, by rule and container, only Swagger UI's own markup at /api/docs/
(EXCLUDED below; README, "Accessibility and phone layout").

Time goes into loading the pages (maps, Swagger UI) and injecting axe, not
into the second width: checking 390 px on a subset of pages instead of all
took as long within the noise of the shared machine, so every page gets both."""

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser import chromium, collect_errors
from tests.pages_catalogue import ANONYMOUS, USER_KINDS, catalogue_data, pages

AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = {1280: 900, 390: 844}
LANGUAGES = ("vi", "en")
BLOCKING = ("serious", "critical")
HEADER_MAX_PX = 100

# page name -> [(rule id, CSS selector of the container)]: violations inside
# a third-party widget we serve but do not write, and cannot configure away.
EXCLUDED = {
    # Swagger UI 5 (drf-spectacular-sidecar) draws each operation's summary as
    # a <button> that holds the copy-path and lock buttons. Its colours are
    # fixed in templates/drf_spectacular/swagger_ui.html instead.
    "api-docs": [("nested-interactive", "#swagger-ui .opblock-summary")],
}
# Pages whose content is drawn by script after "load": wait for this.
READY = {"api-docs": "#swagger-ui .opblock"}

RUN_AXE = """async ([tags, excluded]) => {
    const result = await axe.run(document, {
        runOnly: {type: 'tag', values: tags},
        resultTypes: ['violations'],
    });
    const left = (rule, node) => {
        const element = node.target.length === 1 ? document.querySelector(node.target[0]) : null;
        return !excluded.some(([id, container]) => id === rule && element && element.closest(container));
    };
    return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        targets: v.nodes.filter((n) => left(v.id, n)).map((n) => n.target.map(String).join(' ')),
    }));
}"""


@pytest.fixture(scope="module")
def data(django_db_setup, django_db_blocker) -> Iterator:
    with catalogue_data(django_db_blocker) as made:
        yield made


@pytest.fixture(scope="module")
def browser(data) -> Iterator[Browser]:
    yield from chromium()


def _blocking(page: Page, page_name: str) -> list[tuple[str, str, int]]:
    """(rule, first target not excluded, count) of each serious or critical violation."""
    found = []
    for violation in page.evaluate(RUN_AXE, [WCAG_TAGS, EXCLUDED.get(page_name, [])]):
        targets = violation["targets"]
        if violation["impact"] in BLOCKING and targets:
            found.append((violation["id"], targets[0], len(targets)))
    return found


def _phone_layout(page: Page) -> list[str]:
    """At 390 px: nothing sticks out sideways, and the site header is compact."""
    # Charts follow the new width a frame or two later (a ResizeObserver).
    with contextlib.suppress(PlaywrightTimeoutError):  # still too wide: reported below
        page.wait_for_function("document.scrollingElement.scrollWidth <= 390", timeout=1500)
    wide, header = page.evaluate(
        """() => [document.scrollingElement.scrollWidth,
                  document.querySelector('.site-header')?.getBoundingClientRect().height ?? 0]"""
    )
    found = []
    if wide > 390:
        found.append(f"the page is {wide} px wide")
    if header > HEADER_MAX_PX:
        found.append(f"the header is {header:.0f} px tall")
    return found


@pytest.mark.django_db  # also makes pytest-django create the test database the server uses
def test_the_public_pages_of_the_catalogue_answer(client, data):
    public = [p for p in pages(data) if p.user == ANONYMOUS]
    assert {p.path: client.get(p.path).status_code for p in public} == {p.path: p.status for p in public}


@pytest.mark.browser
@pytest.mark.parametrize("user", USER_KINDS)
def test_no_serious_accessibility_violation(user, data, browser, live_server_url):
    mine = [p for p in pages(data) if p.user == user]
    assert mine, user
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    if user != ANONYMOUS:
        cookie = {"name": settings.SESSION_COOKIE_NAME, "value": data.sessions[user], "url": live_server_url}
        context.add_cookies([cookie])
    page = context.new_page()
    errors = collect_errors(page, ignore_failed_loads_outside=live_server_url)
    problems: list[str] = []
    started = time.monotonic()
    for language in LANGUAGES:
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server_url}])
        for entry in mine:
            page.set_viewport_size({"width": 1280, "height": WIDTHS[1280]})
            answer = page.goto(live_server_url + entry.path, wait_until="load")
            if answer is None or answer.status != entry.status:
                problems.append(f"{entry.path} [{language}]: status {answer and answer.status}, not {entry.status}")
                continue
            shown_in = page.evaluate("document.documentElement.lang")
            if shown_in != language:
                problems.append(f"{entry.path} [{language}]: <html lang> is {shown_in!r}")
            if entry.name in READY:
                page.wait_for_selector(READY[entry.name])
            page.add_script_tag(path=str(AXE))
            for width, height in WIDTHS.items():
                page.set_viewport_size({"width": width, "height": height})
                if width == 390:
                    problems += [f"{entry.path} 390px [{language}]: {p}" for p in _phone_layout(page)]
                for rule, target, count in _blocking(page, entry.name):
                    problems.append(f"{entry.path} {width}px [{language}]: {rule} at {target} ({count} elements)")
    context.close()
    print(f"axe, {user}: {len(mine)} pages x 2 languages x 2 widths in {time.monotonic() - started:.1f} s")
    assert problems == [], "\n" + "\n".join(problems)
    # The browser reports the expected 4xx of a page as a failed load.
    expected = [live_server_url + p.path for p in mine if p.status != 200]
    assert [e for e in errors if not any(f"({url})" in e for url in expected)] == []
