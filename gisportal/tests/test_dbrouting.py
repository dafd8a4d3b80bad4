"""The router's rules, in process: which reads may go to the replica, and when
the client's reads stay on the primary. The replica's health is set on the
process's own `health` object (as its last check would have left it); no
query is sent to a replica here. End to end, with a real replica and
PgBouncer: tests/test_read_replica.py."""

import time
from collections.abc import Iterator

import pytest
from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import resolve

from gisportal import dbrouting
from gisportal.dbrouting import STICKY_COOKIE, ReplicaRouter, ReplicaRoutingMiddleware, read_alias

NEAREST = "/api/v1/service-points/nearest/?lon=106.07&lat=21.18"
# The alias is only named in the settings, never connected to.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")


@pytest.fixture
def replica_alias(settings) -> Iterator[None]:
    """A "replica" alias in the settings (never connected to here), checked
    a moment ago and usable, with an hour before the next check."""
    settings.DATABASES = {**settings.DATABASES, "replica": settings.DATABASES["default"]}
    settings.DATABASE_REPLICA_CHECK_S = 3600
    settings.DATABASE_REPLICA_STICKY_S = 15
    saved = (dbrouting.health._checked_at, dbrouting.health.usable)
    dbrouting.health._checked_at, dbrouting.health.usable = time.monotonic(), True
    yield
    dbrouting.health._checked_at, dbrouting.health.usable = saved


def _through_middleware(request, *, view=None) -> tuple[HttpResponse, dict]:
    """The request through ReplicaRoutingMiddleware (process_view, then `view`);
    returns the response and the aliases the view would read with."""
    seen: dict = {}

    def get_response(request):
        request.resolver_match = resolve(request.path)
        middleware.process_view(request, None, (), {})
        if view is not None:
            view()
        seen["raw"] = read_alias()
        seen["dossiers"] = read_alias("dossiers")
        seen["sessions"] = read_alias("sessions")
        return HttpResponse("ok")

    middleware = ReplicaRoutingMiddleware(get_response)
    return middleware(request), seen


def test_outside_a_request_every_read_goes_to_the_primary(replica_alias):
    assert read_alias() == read_alias("layers") == DEFAULT_DB_ALIAS


def test_a_stale_ok_get_reads_the_replica_but_never_sessions_or_users(replica_alias, rf: RequestFactory):
    response, seen = _through_middleware(rf.get(NEAREST))
    assert seen == {"raw": "replica", "dossiers": "replica", "sessions": DEFAULT_DB_ALIAS}
    assert STICKY_COOKIE not in response.cookies


def test_other_endpoints_and_other_methods_read_the_primary(replica_alias, rf: RequestFactory):
    assert _through_middleware(rf.get("/api/v1/service-points/"))[1]["raw"] == DEFAULT_DB_ALIAS
    assert _through_middleware(rf.post(NEAREST))[1]["raw"] == DEFAULT_DB_ALIAS


def test_after_a_write_the_request_and_the_client_read_the_primary(replica_alias, rf: RequestFactory):
    from layers.models import ServicePoint

    def writes():
        assert ReplicaRouter().db_for_write(ServicePoint) == DEFAULT_DB_ALIAS

    response, seen = _through_middleware(rf.get(NEAREST), view=writes)
    assert seen["raw"] == seen["dossiers"] == DEFAULT_DB_ALIAS
    cookie = response.cookies[STICKY_COOKIE]
    assert cookie["max-age"] == 15 and cookie["httponly"]
    assert time.time() + 14 <= float(cookie.value) <= time.time() + 15
    # The same client's next stale-OK read: the primary, until the cookie's time.
    request = rf.get(NEAREST)
    request.COOKIES[STICKY_COOKIE] = cookie.value
    assert _through_middleware(request)[1]["raw"] == DEFAULT_DB_ALIAS
    for stale in (str(int(time.time()) - 1), "not-a-time"):
        request = rf.get(NEAREST)
        request.COOKIES[STICKY_COOKIE] = stale
        assert _through_middleware(request)[1]["raw"] == "replica"


@pytest.mark.django_db
def test_reads_inside_a_transaction_stay_on_the_primary(replica_alias, rf: RequestFactory):
    seen: dict = {}

    def in_transaction():
        with transaction.atomic():
            seen["inside"] = read_alias()

    _through_middleware(rf.get(NEAREST), view=in_transaction)
    assert seen["inside"] == DEFAULT_DB_ALIAS


def test_a_replica_that_lags_or_is_down_sends_reads_to_the_primary(replica_alias, rf: RequestFactory):
    dbrouting.health.usable = False
    assert _through_middleware(rf.get(NEAREST))[1]["raw"] == DEFAULT_DB_ALIAS


def test_migrations_run_on_the_primary_only():
    router = ReplicaRouter()
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "dossiers") is True
    assert router.allow_migrate("replica", "dossiers") is False
