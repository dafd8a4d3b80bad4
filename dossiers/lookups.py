"""The catalogue rows a submission looks up, kept per process under a
version stamp (issue #13).

Every submission reads the same few rows: its procedure (with the agency,
and whether it declares components), the service point, the commune named
by code, the working calendar's exceptions, the committee that handles a
commune-level procedure, the desk rule. Migration 0018 keeps one version
that a statement trigger moves on every change to the tables they come from
(as the units' version, layers 0007), so one statement a request tells
whether what this process holds is still what the database holds.

What is kept is shared by the threads of a process: read only. A value is
made after the version was read, so it is never older than the version it
is kept under; a version is never reused (a sequence does not roll back).
Without the triggers (the Citus mode drops triggers on reference tables,
`dossiers.citus`) the version is None and nothing is kept."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from django.db import connection

# The tables whose changes move the version, each with the trigger (migration 0018).
TABLES_WATCHED = 6
_VERSION_SQL = (
    "SELECT version FROM dossiers_lookupversion WHERE id = 1 "
    "AND (SELECT count(*) FROM pg_trigger WHERE tgname = 'dossiers_lookup_version_bump') = %s"
)


def lookup_version() -> int | None:
    """The look-ups' version (migration 0018), None unless every watched
    table has its trigger."""
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL, [TABLES_WATCHED])
        row = cursor.fetchone()
    return row[0] if row else None


class Lookups:
    """The values kept for one version; `get` makes a missing one."""

    def __init__(self, version: int | None, values: dict | None):
        self.version = version
        self._values = values

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if self._values is None:
            return make()
        try:
            return self._values[key]
        except KeyError:
            value = self._values[key] = make()
            return value


_lock = threading.Lock()
_kept: tuple[int | None, dict] = (None, {})
# Enough for the whole catalogue at every desk; a bound against a caller
# sending endless distinct codes that all miss.
MAX_VALUES = 20_000


def lookups_current() -> Lookups:
    """What this process keeps for the database's current version (one
    statement), emptied when the version moved."""
    global _kept
    version = lookup_version()
    if version is None:
        return Lookups(None, None)
    with _lock:
        kept_version, values = _kept
        if kept_version != version or len(values) > MAX_VALUES:
            values = {}
            _kept = (version, values)
    return Lookups(version, values)
