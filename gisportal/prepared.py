"""Prepared statements for the hottest raw reads (the nearest look-up, a
tile, OGC items, the public look-up of a dossier, the catalogue search):
parsed and planned once per persistent connection instead of on every
request. Django's own cursors bind client-side and are never prepared
(gisportal/settings/env.py, `prepare_threshold`)."""

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import psycopg
from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.base import ServerBindingCursor

from gisportal.dbrouting import read_connection


class _PreparedCursor(ServerBindingCursor):
    """Django's psycopg cursor with server-side binding, every statement
    prepared (`prepare=True`): PostgreSQL parses and plans it once per
    connection, and connections persist (CONN_MAX_AGE)."""

    # When Django logs queries (DEBUG, CaptureQueriesContext): the statement
    # with its values, where Django's log reads a client-side cursor's.
    log_sql = False

    def execute(self, query, params=None, *, prepare=None, binary=None):
        super().execute(query, params, prepare=True, binary=binary)
        if self.log_sql:
            self._query = SimpleNamespace(query=psycopg.ClientCursor(self.connection).mogrify(query, params).encode())
        return self


@contextmanager
def prepared_cursor(*, binary: bool = False, using: str | None = None) -> Iterator:
    """A cursor of the default connection whose statements are prepared once
    per connection: for the hottest reads only (the nearest look-up, a tile,
    the public look-up of a dossier, the catalogue search), whose few
    statement texts repeat on every request. It is Django's own cursor
    wrapper (query logging, `execute_wrapper`, health checks as usual) around
    a `_PreparedCursor` of the same connection. Parsing and planning were
    0.2 ms of the 0.5 ms the nearest statement took unprepared
    (bench/nearest.py). `binary`: the results in PostgreSQL's binary format,
    as they are stored (a vector tile's bytes, not their hex text: 0.4 ms
    less for a z14 tile of 70 KB; numbers without their decimal text).

    The connection is the read replica's for a stale-OK request
    (gisportal/dbrouting.py), or the one of alias `using` (a caller's
    router's choice). Behind a transaction-mode pooler
    (DATABASE_POOLER) the next statement may run on another server session,
    which never saw the prepared one: then a plain cursor."""
    db = connections[using] if using else read_connection()
    if settings.DATABASE_POOLER:
        with db.cursor() as plain:
            yield plain
        return
    # As db.cursor(), with our cursor instead of one made to be thrown away.
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        cursor = _PreparedCursor(db.connection)
        wrapper = db._prepare_cursor(cursor)
    cursor.log_sql = db.queries_logged
    if binary:
        cursor.format = psycopg.pq.Format.BINARY
    with wrapper:
        yield wrapper
