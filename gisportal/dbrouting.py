"""Reads that may be slightly stale go to a PostgreSQL streaming replica.

Installed only when DATABASE_REPLICA_URL is set (gisportal/settings/base.py,
"Read replica"); without it the portal has one database and none of this runs.

Which reads: the GET and HEAD requests of the URL names in STALE_OK_URL_NAMES
(the public map, the nearest look-up, OGC API items, vector tiles, density,
indicators), marked per request by `ReplicaRoutingMiddleware`. Everything else,
and every read of a request that already wrote, goes to "default" (the primary).
A client that wrote gets a cookie for DATABASE_REPLICA_STICKY_S seconds during
which all its reads go to the primary as well: a citizen never misses the
dossier they just submitted, whatever the replica's lag.

Lag and failure: each process asks the replica at most every
DATABASE_REPLICA_CHECK_S seconds how far its replay is behind; beyond
DATABASE_REPLICA_MAX_LAG_S, or when it does not answer, reads go to the primary
and one warning is logged (and one more when it is back), not one per request.

ORM reads follow the router; raw SQL reads of the stale-OK endpoints take
their connection from `read_connection()`.
"""

import contextvars
import logging
import math
import threading
import time
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

REPLICA_DB_ALIAS = "replica"
STICKY_COOKIE = "db_primary_until"

# Reads that may be a few seconds old: public, anonymous, rebuilt from data
# that changes by the minute. URL names (not paths), so a moved route keeps
# its routing; only GET and HEAD.
STALE_OK_URL_NAMES = frozenset(
    {
        "home",
        "map",
        "service-point-nearest",
        "ogc-items",
        "ogc-item",
        "registry-tile",
        "registry-tilejson",
        "api-analytics-density",
        "tiles-analytics-density",
        "planning-density",
        "api-stats-dossiers",
        "stats-dashboard",
    }
)

# Who is asking is never stale: a session, token or lockout created a moment
# ago on the primary must be found (an API client keeps no sticky cookie).
PRIMARY_ONLY_APPS = frozenset({"sessions", "auth", "accounts", "knox", "axes", "admin", "contenttypes"})

_LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    -- Everything received is replayed: nothing is missing however old the
    -- last commit is (an idle primary writes none).
    WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, 'Infinity')
END
"""


@dataclass
class _RequestState:
    stale_ok: bool = False
    wrote: bool = False
    primary_only: bool = False  # a client that wrote a moment ago


_request: contextvars.ContextVar[_RequestState | None] = contextvars.ContextVar("db_request", default=None)


class ReplicaHealth:
    """Whether this process may read from the replica, asked of the replica at
    most every DATABASE_REPLICA_CHECK_S seconds. One thread asks at a time; the
    others go on with the last answer meanwhile.

    The question runs in a thread of its own, given DATABASE_REPLICA_PROBE_TIMEOUT_S
    to answer: behind PgBouncer a replica that is down does not refuse the
    connection, the query waits in PgBouncer's queue (query_wait_timeout). No
    answer in time counts as down, and no new question is asked until that
    one has ended."""

    def __init__(self):
        self._lock = threading.Lock()
        self._checked_at = -math.inf
        self._pending: threading.Thread | None = None
        self.usable = True
        self.reason = ""

    def _ask(self) -> tuple[bool, str]:
        if self._pending is not None and self._pending.is_alive():
            return False, "the previous check is still waiting for an answer"
        answer: list[tuple[bool, str]] = []
        self._pending = threading.Thread(target=lambda: answer.append(_probe()), name="replica-probe", daemon=True)
        self._pending.start()
        timeout_s = settings.DATABASE_REPLICA_PROBE_TIMEOUT_S
        self._pending.join(timeout_s)
        return answer[0] if answer else (False, f"no answer within {timeout_s:g} s")

    def replica_usable(self) -> bool:
        if time.monotonic() - self._checked_at < settings.DATABASE_REPLICA_CHECK_S:
            return self.usable
        if not self._lock.acquire(blocking=False):
            return self.usable
        try:
            usable, reason = self._ask()
            self._checked_at = time.monotonic()
            if usable != self.usable:
                if usable:
                    logger.warning("read replica usable again: stale-OK reads go to the replica (%s)", reason)
                else:
                    logger.warning("read replica not usable: %s; reads go to the primary", reason)
            self.usable, self.reason = usable, reason
        finally:
            self._lock.release()
        return self.usable


def _probe() -> tuple[bool, str]:
    db = connections[REPLICA_DB_ALIAS].settings_dict
    params = {"dbname": db["NAME"], "user": db["USER"], "password": db["PASSWORD"], "host": db["HOST"]}
    params = {key: value for key, value in params.items() if value}
    bound_s = settings.DATABASE_REPLICA_MAX_LAG_S
    try:
        # A connection of its own, short-lived: Django's connection of this
        # thread stays out of a failed probe. prepare_threshold=None: a pooler
        # may sit in between.
        with psycopg.connect(
            **params,
            port=db["PORT"] or None,
            connect_timeout=max(1, math.ceil(settings.DATABASE_REPLICA_PROBE_TIMEOUT_S)),
            prepare_threshold=None,
            autocommit=True,
        ) as conn:
            lag_s = conn.execute(_LAG_SQL).fetchone()[0]
    except psycopg.Error as error:
        return False, f"unreachable ({type(error).__name__}: {str(error).strip().splitlines()[0]})"
    if lag_s > bound_s:
        return False, f"replay lag {lag_s:.1f} s > bound {bound_s:g} s"
    return True, f"replay lag {lag_s:.1f} s <= bound {bound_s:g} s"


health = ReplicaHealth()


def read_alias(app_label: str | None = None) -> str:
    """The alias a read of `app_label` (None: raw SQL) should use now."""
    state = _request.get()
    if state is None or not state.stale_ok or state.wrote or state.primary_only:
        return DEFAULT_DB_ALIAS
    if app_label in PRIMARY_ONLY_APPS:
        return DEFAULT_DB_ALIAS
    # Inside a transaction on the primary, reads belong to its snapshot.
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    if REPLICA_DB_ALIAS not in settings.DATABASES or not health.replica_usable():
        return DEFAULT_DB_ALIAS
    return REPLICA_DB_ALIAS


def read_connection() -> BaseDatabaseWrapper:
    """The connection for a raw SQL read: the replica for a stale-OK request
    while it is usable, else the default connection (always, without a replica)."""
    return connections[read_alias()]


class ReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        return read_alias(model._meta.app_label)

    def db_for_write(self, model, **hints) -> str:
        state = _request.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the same data on both sides

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReplicaRoutingMiddleware:
    """Per request: whether its reads may go to the replica (its URL name),
    whether the client wrote a moment ago (the sticky cookie), and after it,
    if it wrote, the cookie. Placed before the session middleware, so that a
    session saved on the way out counts as a write."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        state = _RequestState(primary_only=_sticky(request))
        token = _request.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        if state.wrote:
            sticky_s = settings.DATABASE_REPLICA_STICKY_S
            response.set_cookie(
                STICKY_COOKIE,
                str(int(time.time() + sticky_s)),
                max_age=int(sticky_s),
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        state = _request.get()
        match = request.resolver_match
        if state is not None and request.method in ("GET", "HEAD") and match is not None:
            state.stale_ok = match.url_name in STALE_OK_URL_NAMES
        return None


def _sticky(request) -> bool:
    """The client wrote less than DATABASE_REPLICA_STICKY_S ago (the cookie's
    own expiry time, for clients that keep cookies past their max-age)."""
    try:
        return float(request.COOKIES.get(STICKY_COOKIE, "0")) > time.time()
    except ValueError:
        return False
