import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import patch_vary_headers

from gisportal.api import message


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


# --- the database going away -------------------------------------------------------

logger = logging.getLogger("gisportal.database")

# How long a client is asked to wait: a restart of PostgreSQL takes seconds.
DATABASE_RETRY_AFTER_S = 5
# SQLSTATE classes that mean "no database to talk to": 08 connection
# exception, 57P operator intervention (shutdown, starting up, crash).
_UNAVAILABLE_SQLSTATES = ("08", "57P")
# Paths whose clients read JSON (the API, OGC API Features, tiles and their TileJSON).
_MACHINE_PREFIXES = ("/api/", "/ogc/", "/tiles/")


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
    if request.path.startswith(_MACHINE_PREFIXES):
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
