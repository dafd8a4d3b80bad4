"""Every new database session makes and frees one block first
(gisportal/dbsession.py), so that its backend keeps the memory its
statements use: counted in the backend's own minor page faults, read from
/proc (the test database runs on this machine)."""

from pathlib import Path

import psycopg
import pytest
from django.db import connections
from django.test import override_settings

# Sorts 20,000 strings: about 2.5 MB made and freed a statement.
CHURN_SQL = "SELECT count(*) FROM (SELECT md5(i::text) FROM generate_series(1, 20000) i ORDER BY 1) q"
RUNS = 20


def _minor_faults(pid: int) -> int:
    # /proc/<pid>/stat: the fields after the command's closing parenthesis; minflt is the 10th field.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def _faults_a_statement(raw) -> float:
    pid = raw.execute("SELECT pg_backend_pid()").fetchone()[0]
    if not Path(f"/proc/{pid}").exists():
        pytest.skip("the database server is not on this machine")
    raw.execute(CHURN_SQL).fetchone()
    before = _minor_faults(pid)
    for _ in range(RUNS):
        raw.execute(CHURN_SQL).fetchone()
    return (_minor_faults(pid) - before) / RUNS


def _new_session():
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    return wrapper


@pytest.mark.django_db
def test_a_new_session_keeps_the_memory_its_statements_use():
    warmed = _new_session()
    plain = psycopg.connect(**warmed.get_connection_params(), autocommit=True)
    try:
        kept, given_back = _faults_a_statement(warmed.connection), _faults_a_statement(plain)
    finally:
        warmed.close()
        plain.close()
    assert given_back > 100, "the statement must make the backend fault memory back in, or this proves nothing"
    assert kept < given_back / 20


@pytest.mark.django_db
@pytest.mark.parametrize("setting", [{"DATABASE_SESSION_WARM_BYTES": 0}, {"DATABASE_POOLER": "pgbouncer"}])
def test_the_warm_up_is_off_when_asked_and_behind_a_pooler(setting):
    with override_settings(**setting):
        session = _new_session()
    try:
        assert _faults_a_statement(session.connection) > 100
    finally:
        session.close()
