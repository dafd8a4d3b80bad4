import contextlib
import json
import logging
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse, QueryDict
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.html import escape

from gisportal.messages import message
from gisportal.unstorable import UNSTORABLE_MESSAGE, printable_name, unstorable, unstorable_fields


class VietnameseFirstLocaleMiddleware:
    """The portal speaks Vietnamese unless the visitor chose otherwise.

    Django's LocaleMiddleware follows the browser's Accept-Language, so a
    citizen whose phone is set to English would get English without asking.
    Here only an explicit choice counts: the language cookie set by the
    switch (`/i18n/setlang/`) or a `?lang=` parameter on a shared link.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.GET.get("lang") or request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response


# Paths answered in JSON (the APIs); everything else is a page.
API_PREFIXES = ("/api/", "/ogc/", "/tiles/", "/open311/")


# --- input PostgreSQL cannot store ------------------------------------------------

BODY_TOO_LARGE_MESSAGE = message("Nội dung yêu cầu quá lớn.", "The request body is too large.")

# A JSON body is parsed only when its raw bytes hold an escape that could
# decode to NUL or a surrogate (\u0000, \ud800-\udfff); most bodies never are.
_SUSPECT_JSON_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})")


def _json_problems(value, name: str, found: list[str]) -> list[str]:
    """The names of the fields whose string (or object key) cannot be stored:
    the key of the innermost object holding it, the way the APIs name a field
    in their 400s (`applicant_name`, a feature property's own name); "body"
    for a bare string."""
    if isinstance(value, str):
        if unstorable(value):
            found.append(name)
    elif isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            if unstorable(key):
                found.append(printable_name(key))
            else:
                _json_problems(item, key, found)
    elif isinstance(value, list):
        for item in value:
            _json_problems(item, name, found)
    return found


def _body_problems(request) -> list[str]:
    """Names of the fields of a JSON or URL-encoded body that cannot be stored.
    Multipart bodies are left to the views (Django and DRF form fields refuse
    NUL themselves): parsing uploads here would read them before any
    authentication."""
    content_type = request.content_type or ""
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if not (is_json or content_type == "application/x-www-form-urlencoded"):
        return []
    if request.META.get("CONTENT_LENGTH") in (None, "", "0"):
        return []  # no body (or a chunked one, which Django's request does not read either)
    body = request.body  # RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE
    found: list[str] = []
    if is_json:
        if _SUSPECT_JSON_ESCAPE.search(body):
            # Not JSON: the view's parser answers with its own 400.
            with contextlib.suppress(ValueError):
                _json_problems(json.loads(body), "body", found)
    else:
        # Parsed here: Django fills request.POST for POST only, and DRF's
        # FormParser also reads PUT and PATCH bodies.
        found += unstorable_fields(QueryDict(body, encoding=request.encoding))
    return found


class UnstorableInputMiddleware:
    """Refuses, with a 400 and before any view runs, a request whose path,
    query parameters, headers, cookies, JSON / URL-encoded body or multipart
    page form carry a character PostgreSQL cannot store (NUL, lone
    surrogates): such a value reaching a query raised inside the database
    driver (a 500). The answer names each offending parameter, as every 400
    of the portal does: JSON `{"<name>": ["vi / en"]}` on the API paths, a
    short bilingual page elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        found = _unstorable_parts(request) if _any_unstorable_part(request) else []
        try:
            found += _body_problems(request)
        except RequestDataTooBig:
            return _refusal(request, {"body": [BODY_TOO_LARGE_MESSAGE]})
        if not found:
            return self.get_response(request)
        return _refusal(request, {name: [UNSTORABLE_MESSAGE] for name in dict.fromkeys(found)})

    def process_view(self, request, view_func, view_args, view_kwargs):
        """Multipart forms posted to pages: their CSRF check reads request.POST
        before the view anyway. The API's (CSRF-exempt) multipart bodies are
        checked by `gisportal.unstorable.MultiPartParser` once the caller is known."""
        if request.method != "POST" or request.content_type != "multipart/form-data":
            return None
        if getattr(view_func, "csrf_exempt", False):
            return None
        found = unstorable_fields(request.POST)
        if found:
            return _refusal(request, {name: [UNSTORABLE_MESSAGE] for name in found})
        return None


def _headers(request):
    """The request's headers as (META key, value)."""
    return ((key, value) for key, value in request.META.items() if key.startswith("HTTP_") and isinstance(value, str))


def _any_unstorable_part(request) -> bool:
    """Whether the path, a query parameter's name or value, a cookie or a
    header holds a character PostgreSQL cannot store: one search over them
    all (half the cost of searching each, on every request), which
    `_unstorable_parts` then names."""
    parts = [request.path]
    for key, values in request.GET.lists():
        parts.append(key)
        parts += values
    for key, value in request.COOKIES.items():
        parts += (key, value)
    parts += (value for _, value in _headers(request))
    return unstorable("\n".join(parts))


def _unstorable_parts(request) -> list[str]:
    """The names of the parts `_any_unstorable_part` searches that cannot be stored."""
    found = ["path"] if unstorable(request.path) else []
    found += unstorable_fields(request.GET)
    found += ["cookie:" + name for name in unstorable_fields(request.COOKIES)]
    found += [key[5:].replace("_", "-").title() for key, value in _headers(request) if unstorable(value)]
    return found


def _refusal(request, errors: dict[str, list[str]]) -> HttpResponse:
    """400 naming each offending parameter."""
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(errors, status=400, json_dumps_params={"ensure_ascii": False})
    items = "".join(
        f"<li><code>{escape(name)}</code>: {escape(' '.join(texts))}</li>" for name, texts in errors.items()
    )
    page = (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        "<title>Yêu cầu không hợp lệ / Bad request</title></head><body>"
        "<h1>Yêu cầu không hợp lệ / Bad request</h1>"
        f"<ul>{items}</ul></body></html>"
    )
    return HttpResponse(page, status=400, content_type="text/html; charset=utf-8")


# --- the database going away -------------------------------------------------------

logger = logging.getLogger("gisportal.database")

# How long a client is asked to wait: a restart of PostgreSQL takes seconds.
DATABASE_RETRY_AFTER_S = 5
# SQLSTATE classes that mean "no database to talk to": 08 connection
# exception, 57P operator intervention (shutdown, starting up, crash).
_UNAVAILABLE_SQLSTATES = ("08", "57P")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached (down, restarting,
    the connection cut), not that a query was wrong or lost a race."""
    if isinstance(exc, InterfaceError):  # "connection already closed"
        return True
    if not isinstance(exc, OperationalError):
        return False
    # Django wraps the driver's error; a failed connect or a cut socket has no SQLSTATE.
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def database_unavailable_response(request) -> HttpResponse:
    """503 with Retry-After: JSON `{"detail": ...}` for the API, a short page for people."""
    if request.path.startswith(API_PREFIXES):
        detail = message(
            "Cơ sở dữ liệu tạm thời không sẵn sàng; vui lòng thử lại sau ít giây.",
            "The database is temporarily unavailable; please try again in a few seconds.",
        )
        response: HttpResponse = JsonResponse({"detail": detail}, status=503, json_dumps_params={"ensure_ascii": False})
    else:
        html = render_to_string("database_unavailable.html", {"retry_after_s": DATABASE_RETRY_AFTER_S})
        response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """While PostgreSQL is down or restarting, a request that needs it gets a
    503 with Retry-After at once instead of a 500 with a traceback. The
    persistent connections check themselves at the start of each request
    (CONN_HEALTH_CHECKS), so once the database is back the next request
    reconnects and succeeds; nothing needs restarting."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        logger.warning("database unavailable, answering 503 to %s %s: %s", request.method, request.path, exception)
        return database_unavailable_response(request)
