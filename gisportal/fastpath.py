"""The lean path: the hottest public reads answered in front of Django's
handler (issue #13), the one place where any request skips part of Django.

`LeanPath` wraps the WSGI application (gisportal/wsgi.py). A request it
knows (GET, the path of a route of `_routes()`, parameters the route
accepts) it answers itself; everything else, and every request its route
declines (a bad parameter, the "now" parameters of the nearest look-up),
goes to Django untouched. A route with path parameters (a tile, a
collection's items) names the prefix of its paths; a path under it is
resolved by Django's own resolver. A route whose answer depends on who asks
(the layers a caller may see) takes anonymous callers only: no session
cookie and no Authorization header; a signed-in caller or a token goes to
Django. What a lean answer still gets, from the same code as Django's:

- the middleware of settings.MIDDLEWARE except the four in `NOT_ON_LEAN_PATH`
  (each with the reason it changes nothing here; an anonymous-only route
  keeps AuthenticationMiddleware, so its `request.user` is Django's
  anonymous user read from the empty session, and the answer varies on
  Cookie as Django's does), so: security headers (HSTS,
  nosniff, referrer and opener policies, X-Frame-Options, the HTTPS
  redirect), gzip for what holds no secret, the 400 for unstorable input,
  the 503 while the database is away, the language, replica routing. A
  middleware added to the settings later applies here too, unless named;
- their process_view and process_exception hooks, with `request.resolver_match`
  the route's (the replica router reads its URL name);
- the route's own view for anything its lean answer declines (a client over
  its rate gets the view's 429, a hidden layer the view's 404);
- an answer's `sent()`, if it has one, once its bytes are sent (the tile
  kept in the caches), as Django runs it from the response's close();
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
from django.urls import URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern
from django.utils.log import log_response
from django.utils.module_loading import import_string

from gisportal.middleware import database_unavailable
from gisportal.throttling import counted_for_the_view, throttle_started

T = TypeVar("T")
AUTHENTICATION_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"

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
    the route's Django view to call for anything it declines (with
    `**request.resolver_match.kwargs`, the path's parameters).

    `prefix`: for a route with path parameters, the start of all its paths;
    such a path is resolved by Django's resolver. `anonymous_only`: the
    answer depends on who asks; only callers with no session cookie and no
    Authorization header are answered here. `prefetch(request)`: a request
    to another server sent before the middleware runs, so that its reply is
    in when the answer needs it; what it returns (None, or something with a
    `close()`, called once the answer is made) is `request.lean_prefetched`."""

    url_name: str
    accept: Callable[[Any], Any]
    answer: Callable[[HttpRequest, Any, Callable], HttpResponse]
    prefix: str | None = None
    anonymous_only: bool = False
    prefetch: Callable[[HttpRequest], Any] | None = None


def _routes() -> list[Route]:
    from dossiers.catalogue_apis import procedure_list_accept, procedure_list_lean_answer
    from dossiers.lookup import lookup_accept, lookup_lean_answer
    from layers.apis import unit_list_accept, unit_list_lean_answer
    from layers.registries.ogc import items_accept, items_answer
    from layers.registries.tiles import tile_accept, tile_answer, tile_prefetch
    from maps.nearest_apis import plain_answer, plain_lookup

    return [
        Route("service-point-nearest", plain_lookup, plain_answer),
        Route("admin-unit-list", unit_list_accept, unit_list_lean_answer),
        Route("api-dossier-lookup", lookup_accept, lookup_lean_answer),
        Route("api-procedure-list", procedure_list_accept, procedure_list_lean_answer),
        Route("registry-tile", tile_accept, tile_answer, prefix="/tiles/", anonymous_only=True, prefetch=tile_prefetch),
        Route("ogc-items", items_accept, items_answer, prefix="/ogc/collections/", anonymous_only=True),
    ]


def reconnecting(read: Callable[[], T]) -> T:
    """`read()`, once more on new connections if a database connection
    kept from an earlier request turned out dead (a restart, an idle
    connection cut): what the per-request health check did, paid only when
    it happens. A failure to open a connection is not tried again (a
    database that does not answer would cost the connect timeout twice); it
    and a second failure go on to DatabaseUnavailableMiddleware's 503."""
    kept = any(connection.connection is not None for connection in connections.all(initialized_only=True))
    try:
        return read()
    except (OperationalError, InterfaceError) as error:
        if not kept or not database_unavailable(error):
            raise
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close()
        return read()


def answer_within_rate(request: HttpRequest, view: Callable, answer: Callable[[], HttpResponse]) -> HttpResponse:
    """The lean answer of a rate-limited public view: `answer()` (what the
    view's get returns, made without DRF's dispatch; `reconnecting`) while
    every throttle of the view counts the request, as DRF's check_throttles.
    Each count is sent to Redis before `answer()` and its reply read after
    it, so the round trips overlap (`throttle_started`). The answer gets the
    headers DRF's finalisation adds. On a refusal the counts are handed to
    the view, which answers its own 429 without counting again
    (`counted_for_the_view`); the price: a client over its rate costs one
    answer before its 429."""
    api = view_set_up(request, view)
    throttles = api.get_throttles()
    pending = [throttle_started(throttle, request, api) for throttle in throttles]
    try:
        response = reconnecting(answer)
    finally:
        allowed = [check() for check in pending]  # every reply read, even after a failed answer
    if not all(allowed):
        counted_for_the_view(request, throttles)
        return view(request, **request.resolver_match.kwargs)
    return with_view_headers(response, api)


def view_set_up(request: HttpRequest, view: Callable):
    """The route's DRF view instance for a lean answer, set up as its
    dispatch would (the path's parameters; its Allow header, as it answers
    HEAD too)."""
    api = view.view_class(**view.view_initkwargs)
    api.setup(request, **request.resolver_match.kwargs)
    return api


def with_view_headers(response: HttpResponse, api) -> HttpResponse:
    """`response` with the headers DRF's finalisation adds (`view_set_up`'s view)."""
    for header, value in api.default_response_headers.items():
        response[header] = value
    return response


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


def _literal_start(pattern) -> str | None:
    """What every path a pattern matches starts with, as far as it is plain
    text (a path() route up to its first converter); None when not known (a
    regular expression, a language prefix): such a pattern is kept."""
    if not isinstance(pattern, RoutePattern):
        return None
    return str(pattern).partition("<")[0]


def _patterns_under(patterns: list, prefix: str) -> list:
    """Those of `patterns`, in their order, that may match a path starting
    with `prefix` (relative to their resolver): a pattern whose plain start
    disagrees with it is left out, an include whose plain route is all of a
    start of it is pruned in turn. The first of them to match a path under
    the prefix is the first of all `patterns` to match it."""
    kept = []
    for pattern in patterns:
        start = _literal_start(pattern.pattern)
        if start is not None and not (prefix.startswith(start) or start.startswith(prefix)):
            continue
        # An include wholly plain and wholly a start of the prefix: what is under it is pruned by the
        # rest of the prefix. Any other include (converters, or a longer plain route) is kept whole.
        if isinstance(pattern, URLResolver) and start == str(pattern.pattern) and prefix.startswith(start):
            inner = _patterns_under(pattern.url_patterns, prefix.removeprefix(start))
            if not inner:  # an include of nothing that may match
                continue
            pattern = URLResolver(pattern.pattern, inner, pattern.default_kwargs, pattern.app_name, pattern.namespace)
        kept.append(pattern)
    return kept


def resolver_under(prefix: str) -> URLResolver:
    """The project's resolver with only what may match a path starting with
    `prefix` (an absolute path): it resolves such a path as the whole one
    does (tests/test_fastpath.py), without trying the dozens of patterns
    that cannot match it (a tile's path: 9 us against 25 us, in a loop)."""
    root = get_resolver()
    return URLResolver(
        root.pattern, _patterns_under(root.url_patterns, prefix.removeprefix("/")), app_name=None, namespace=None
    )


class _LeanRoute:
    """One route with its middleware chain, built once per process."""

    def __init__(self, route: Route):
        self.route = route
        self.match = None if route.prefix else resolve(reverse(route.url_name))
        self.view_hooks: list[Callable] = []
        self.exception_hooks: list[Callable] = []
        left_out = set(NOT_ON_LEAN_PATH) - ({AUTHENTICATION_MIDDLEWARE} if route.anonymous_only else set())
        handler = convert_exception_to_response(self._view)
        # As BaseHandler.load_middleware: innermost first, process_view outermost first.
        for path in reversed(settings.MIDDLEWARE):
            if path in left_out:
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
        view, kwargs = request.resolver_match.func, request.resolver_match.kwargs
        for hook in self.view_hooks:
            response = hook(request, view, (), kwargs)
            if response is not None:
                return response
        try:
            response = self.route.answer(request, request.lean_accepted, view)
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
        routes = [_LeanRoute(route) for route in _routes()]
        self.routes = {reverse(lean.route.url_name): lean for lean in routes if not lean.route.prefix}
        self.by_name = {lean.route.url_name: lean for lean in routes if lean.route.prefix}
        self.prefixes = tuple({lean.route.prefix for lean in self.by_name.values()})
        self.resolvers = {prefix: resolver_under(prefix) for prefix in self.prefixes}

    def _lean_request(self, environ: dict) -> tuple[_LeanRoute, WSGIRequest] | None:
        """The route and the request, if the request is one for the lean path."""
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        path = environ.get("PATH_INFO", "")
        lean = self.routes.get(path)
        if lean is not None:
            request = WSGIRequest(environ)
            request.resolver_match = lean.match
            return lean, request
        prefix = next((prefix for prefix in self.prefixes if path.startswith(prefix)), None)
        if prefix is None:
            return None
        # A copy: WSGIRequest writes the decoded path into the environ it is given (its META), and a
        # path Django then gets back (any request declined below) must still be the server's bytes.
        request = WSGIRequest({**environ})
        if not request.path_info.startswith(prefix):
            return None
        try:
            match = self.resolvers[prefix].resolve(request.path_info)
        except Resolver404:
            return None
        lean = self.by_name.get(match.url_name)
        if lean is None or not request.path_info.startswith(lean.route.prefix):
            return None
        if lean.route.anonymous_only and (
            "HTTP_AUTHORIZATION" in environ or settings.SESSION_COOKIE_NAME in request.COOKIES
        ):
            return None
        request.resolver_match = match
        return lean, request

    def __call__(self, environ: dict, start_response: Callable):
        found = self._lean_request(environ)
        if found is None:
            return self.django(environ, start_response)
        lean, request = found
        accepted = lean.route.accept(request.GET)
        if accepted is None:
            return self.django(environ, start_response)
        request.lean_accepted = accepted
        prefetched = request.lean_prefetched = lean.route.prefetch(request) if lean.route.prefetch else None
        try:
            response = lean.chain(request)
        finally:
            if prefetched is not None:
                prefetched.close()
            _release_connections()
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        start_response(
            f"{response.status_code} {response.reason_phrase}",
            [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())],
        )
        sent = getattr(response, "sent", None)
        return [response.content] if sent is None else _Sent(response.content, sent)


class _Sent:
    """The body of a lean answer with a `sent()`, for the WSGI server; its
    close() (called once the bytes are sent) runs it. Not a list: Granian
    sends a list's bytes in one write and never calls its close()."""

    def __init__(self, content: bytes, sent: Callable[[], None]):
        self.content, self.sent = content, sent

    def __iter__(self):
        return iter((self.content,))

    def close(self) -> None:
        self.sent()
