"""What every new PostgreSQL session of the portal does once, before its
first statement: keep the memory its statements use.

A fresh PostgreSQL backend gives memory back to the operating system after
nearly every statement, and takes it again, page by page, on the next: glibc's
malloc returns the top of its heap once more than 128 KiB of it is free, and
raises that threshold only when it frees a block it had mapped on its own.
A page of an OGC items answer (1,000 features) freed and faulted back about
2.4 MB a statement, 600 page faults: 5.7-6.2 ms a page instead of 4.3-4.6 ms
in a backend past that (bench/README.md, 7 December 2026). A backend that once ran
VACUUM had freed such a block and was 25 % faster than one that had not; the
bench's own floor was that backend, right after its import.

So each session makes and frees one array of DATABASE_SESSION_WARM_BYTES
(4 MiB: about 7 ms, once per connection, which lives for CONN_MAX_AGE). From
then on the backend keeps up to twice that much freed memory for its next
statements instead of giving it back. 0 turns it off; behind a transaction
pooler (DATABASE_POOLER) it is off, as the next transaction may run on
another server session."""

from django.conf import settings
from django.db.backends.signals import connection_created

SESSION_WARM_DEFAULT_BYTES = 4 * 2**20
# One int4 array of the given number of elements, made and thrown away.
SESSION_WARM_SQL = "SELECT cardinality(array_fill(0, ARRAY[%s::int]))"
INT4_BYTES = 4


def session_warm_raw(raw, nbytes: int = SESSION_WARM_DEFAULT_BYTES) -> None:
    """The same on a psycopg connection of one's own (the benches' floors,
    so that their sessions are set up as the portal's)."""
    if nbytes > 0:
        raw.execute(SESSION_WARM_SQL, [nbytes // INT4_BYTES])


def session_warm(sender, connection, **kwargs) -> None:
    """connection_created's receiver: the statement on the new session's own
    psycopg connection, past Django's query log (it is not the caller's)."""
    nbytes = settings.DATABASE_SESSION_WARM_BYTES
    if connection.vendor != "postgresql" or settings.DATABASE_POOLER or nbytes <= 0:
        return
    session_warm_raw(connection.connection, nbytes)


def connect_session_warm() -> None:
    connection_created.connect(session_warm, dispatch_uid="gisportal.dbsession.session_warm")
