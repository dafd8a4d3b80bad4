"""Which database errors mean "the database is not there" (a 503 with
Retry-After, gisportal.middleware) and which are bugs or lost races that
must stay visible: real errors from PostgreSQL and from a refused
connection, not constructed ones."""

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from gisportal.middleware import database_unavailable
from tests.processes import free_port


@pytest.mark.django_db
def test_a_refused_connection_means_the_database_is_unavailable():
    nowhere = connection.copy()
    nowhere.settings_dict.update(HOST="127.0.0.1", PORT=free_port())  # nothing listens there
    with pytest.raises(DatabaseError) as caught:
        nowhere.ensure_connection()
    assert database_unavailable(caught.value)


@pytest.mark.django_db
def test_a_cancelled_query_is_not_an_outage():
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(0.2)")
    assert not database_unavailable(caught.value)


@pytest.mark.django_db
def test_a_wrong_query_is_not_an_outage():
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    assert not database_unavailable(caught.value)


@pytest.mark.django_db
def test_a_session_ended_by_the_server_means_the_database_is_unavailable():
    """Our session ended by the server as a restart ends every session
    (pg_terminate_backend: SQLSTATE 57P01, admin shutdown)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    database = connection.settings_dict
    params = {"dbname": database["NAME"], "user": database["USER"], "password": database["PASSWORD"]}
    params.update(host=database["HOST"], port=database["PORT"])
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(DatabaseError) as caught, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert database_unavailable(caught.value)
