"""The lean path: the hottest public reads answered in front of Django's
handler (issue #13), the one place where any request skips part of Django.

`LeanPath` wraps the WSGI application (gisportal/wsgi.py). A request it
knows (GET, the path of a route of `_routes()`, parameters the route
accepts) it answers itself; everything else, and every request its route
declines (a bad parameter, the "now" parameters of the nearest look-up),
goes to Django untouched. What a lean answer still gets, from the same code
as Django's:

- the middleware of settings.MIDDLEWARE except the four in `NOT_ON_LEAN_PATH`
  (each with the reason it changes nothing here), so: security headers (HSTS,
  nosniff, referrer and opener policies, X-Frame-Options, the HTTPS
  redirect), gzip for what holds no secret, the 400 for unstorable input,
  the 503 while the database is away, the language, replica routing. A
  middleware added to the settings later applies here too, unless named;
- their process_view and process_exception hooks, with `request.resolver_match`
  the route's (the replica router reads its URL name);
- the route's own view for anything its lean answer declines (a client over
  its rate gets the view's 429);
- 4xx and 5xx logged as Django's handler logs them.

What it leaves out, on purpose: URL resolution (the route is a dict key),
DRF's request wrapper and finalisation, and the request signals. Without the
signals no connection health check (`SELECT 1`, CONN_HEALTH_CHECKS) runs
before each lean answer; `reconnecting` instead retries a read once on a new
connection when the old one turns out dead, and `_release_connections` does
what request_finished does to connections (CONN_MAX_AGE, errors).
bench/nearest.py measures what this saves; tests/test_fastpath.py proves the
answers equal Django's."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIRequest
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.urls import resolve, reverse
from django.utils.log import log_response
from django.utils.module_loading import import_string

from gisportal.middleware import database_unavailable

T = TypeVar("T")

# The middleware a lean answer does without, and why it changes nothing there.
NOT_ON_LEAN_PATH = {
    "whitenoise.middleware.WhiteNoiseMiddleware": "serves STATIC_URL only; no lean route is under it",
    # Kept, although no lean answer reads the session or asks for a token: the session middleware
    # deletes the cookie of an empty or bad session, the CSRF middleware replaces a malformed cookie.
    "django.contrib.auth.middleware.AuthenticationMiddleware": "no lean answer asks who is signed in",
    "django.contrib.messages.middleware.MessageMiddleware": "no lean answer reads or adds a message",
    "axes.middleware.AxesMiddleware": "acts on sign-in answers only",
}


@dataclass(frozen=True)
class Route:
    """A lean route: its URL name (the path is reversed from it), `accept`
    turning the query (request.GET) into what `answer` needs, or None to
    leave the request to Django, and `answer(request, accepted, view)` with
    the route's Django view to call for anything it declines."""

    url_name: str
    accept: Callable[[Any], Any]
    answer: Callable[[HttpRequest, Any, Callable], HttpResponse]


def _routes() -> list[Route]:
    from maps.nearest_apis import plain_answer, plain_lookup

    return [Route("service-point-nearest", plain_lookup, plain_answer)]


def reconnecting(read: Callable[[], T]) -> T:
    """`read()`, once more on new connections if the database connection
    it used turned out dead (a restart, an idle connection cut): what the
    per-request health check did, paid only when it happens. A second
    failure goes on to DatabaseUnavailableMiddleware's 503."""
    try:
        return read()
    except (OperationalError, InterfaceError) as error:
        if not database_unavailable(error):
            raise
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close()
        return read()


def _release_connections() -> None:
    """What request_finished does to the database connections (close the
    ones past CONN_MAX_AGE, broken or left in a transaction), without
    scheduling a health check for the next request: `reconnecting` covers
    that."""
    for connection in connections.all(initialized_only=True):
        # A lean read opens no transaction: one still open is its caller's (a test's).
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        connection.health_check_done = True


class _LeanRoute:
    """One route with its middleware chain, built once per process."""

    def __init__(self, route: Route):
        match = resolve(reverse(route.url_name))
        self.route, self.match, self.view = route, match, match.func
        self.view_hooks: list[Callable] = []
        self.exception_hooks: list[Callable] = []
        handler = convert_exception_to_response(self._view)
        # As BaseHandler.load_middleware: innermost first, process_view outermost first.
        for path in reversed(settings.MIDDLEWARE):
            if path in NOT_ON_LEAN_PATH:
                continue
            try:
                middleware = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(middleware, "process_view"):
                self.view_hooks.insert(0, middleware.process_view)
            if hasattr(middleware, "process_exception"):
                self.exception_hooks.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self.chain = handler

    def _view(self, request) -> HttpResponse:
        for hook in self.view_hooks:
            response = hook(request, self.view, (), {})
            if response is not None:
                return response
        try:
            response = self.route.answer(request, request.lean_accepted, self.view)
        except Exception as error:
            for hook in self.exception_hooks:
                response = hook(request, error)
                if response is not None:
                    return response
            raise
        if callable(getattr(response, "render", None)):
            response = response.render()  # the view's own answer (a DRF Response)
        return response


class LeanPath:
    """The WSGI application: the lean routes, and Django for the rest."""

    def __init__(self, django_application: Callable):
        self.django = django_application
        self.routes = {reverse(route.url_name): _LeanRoute(route) for route in _routes()}

    def __call__(self, environ: dict, start_response: Callable):
        lean = self.routes.get(environ.get("PATH_INFO")) if environ.get("REQUEST_METHOD") == "GET" else None
        if lean is None:
            return self.django(environ, start_response)
        request = WSGIRequest(environ)
        accepted = lean.route.accept(request.GET)
        if accepted is None:
            return self.django(environ, start_response)
        request.lean_accepted = accepted
        request.resolver_match = lean.match
        try:
            response = lean.chain(request)
        finally:
            _release_connections()
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        start_response(
            f"{response.status_code} {response.reason_phrase}",
            [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())],
        )
        return [response.content]
