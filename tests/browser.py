"""Shared pieces of the browser tests (Debian's chromium through Playwright):
the launch, a fresh page that collects console errors, and logged-in
sessions for the project's own server.

Each browser test module keeps its own module-scoped `browser` fixture, made
with `chromium()`, so that it can depend on the module's database fixtures:
while Playwright's sync API runs, Django refuses database access in this
thread."""

import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from django.test import Client
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium() -> Iterator[Browser]:
    """Body of a module-scoped `browser` fixture (`yield from chromium()`):
    Debian's chromium, or the test skipped where it is not installed."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def collect_errors(page: Page, *, ignore_failed_loads_outside: str | None = None) -> list[str]:
    """The list the page's console errors and uncaught exceptions go into.

    With `ignore_failed_loads_outside` (the base URL of the server under
    test), failed requests to other hosts are left out: there is no internet
    here, so tiles a deployment may configure cannot load."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "")
        if (
            ignore_failed_loads_outside is not None
            and message.text.startswith("Failed to load resource")
            and not source.startswith(ignore_failed_loads_outside)
        ):
            return
        errors.append(f"console: {message.text} ({source})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    return errors


def record_outside_requests(page: Page, server: str) -> list[str]:
    """Every request of the page's context goes through here: those to another
    host than the server under test's are recorded (the list returned) and
    refused. Other servers of the same host (a style server on loopback) pass."""
    outside: list[str] = []
    host = urlsplit(server).hostname

    def route(handled):
        url = handled.request.url
        if urlsplit(url).hostname != host and not url.startswith(("data:", "blob:")):
            outside.append(url)
            handled.abort()
        else:
            handled.continue_()

    page.context.route("**/*", route)
    return outside


def new_page(
    browser: Browser,
    base_url: str,
    *,
    session_key: str | None = None,
    ignore_failed_loads_outside: str | None = None,
    **context_options,
) -> tuple[Page, list[str]]:
    """A page in a fresh context (own cookies, a Vietnamese browser unless
    `locale` says otherwise), signed in with `session_key` if given, and the
    list its errors go into (see collect_errors)."""
    context = browser.new_context(**{"locale": "vi-VN", **context_options})
    if session_key is not None:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": base_url}])
    page = context.new_page()
    return page, collect_errors(page, ignore_failed_loads_outside=ignore_failed_loads_outside)


def session_key_for(user) -> str:
    """A logged-in session of `user` in the database (call with database
    access), for the browser's session cookie."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def session_delete(session_key: str) -> None:
    SessionStore(session_key=session_key).delete()


def in_database(django_db_blocker, work: Callable[[], Any]) -> Any:
    """ORM work while Playwright's event loop holds this thread: in another
    thread, whose connection is closed afterwards."""

    def run():
        with django_db_blocker.unblock():
            try:
                return work()
            finally:
                connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@contextmanager
def registry_editor(django_db_blocker, *, title: str, schema: list[dict], attribution: str = "") -> Iterator[dict]:
    """A health-department official and an internal point layer of that
    department, committed (the server and the worker are other processes),
    with a logged-in session: {"user", "layer", "session"}; all removed
    afterwards, with the files of the layer's import jobs."""
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure
    from layers.registries.services import layer_create_or_update

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        agency = Agency.objects.get(code="so-y-te")
        user = user_ensure(
            username=f"browser-yte-{suffix}", password="x-Strong-pass-1", role="processing_officer", agency=agency
        )
        layer = layer_create_or_update(
            slug=f"browser-clinics-{suffix}",
            title=title,
            owner=agency,
            geometry_type="Point",
            schema=schema,
            visibility="internal",
            attribution=attribution,
        )
        session_key = session_key_for(user)
    try:
        yield {"user": user, "layer": layer, "session": session_key}
    finally:
        with django_db_blocker.unblock():
            session_delete(session_key)
            # Error reports, and the upload of a job that never ran (the import removes its own).
            for job in layer.imports.all():
                for stored in (job.error_report_path, job.stored_path):
                    if stored and not Path(stored).is_absolute():
                        (Path(settings.MEDIA_ROOT) / stored).unlink(missing_ok=True)
            layer.delete()  # its features, changes and import jobs go with it
            user.delete()
