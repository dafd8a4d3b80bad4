"""Test-wide fixtures: the real PostGIS test database, loaded once per run
with the Bắc Ninh units of both eras and the demo service points. Tests run
inside transactions on top of that data and leave it as it was."""

import hashlib
import os
import re
import socket

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

# The project's own server and Celery worker for end-to-end tests.
pytest_plugins = ["tests.live"]


def _run_suffix() -> str:
    """<host hash>_p<pid>: two runs at once on one PostgreSQL server (two
    checkouts, a developer and CI) each get their own test database."""
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
    return f"{host}_p{os.getpid()}"


def _drop_stale_test_databases(database: dict, host_prefix: str) -> None:
    """Drops test databases left by runs of this host that were killed
    (their process no longer exists), so killed runs do not pile up."""
    import psycopg

    pattern = re.compile(rf"^test_.+_{host_prefix}_p(\d+)$")
    params = {
        "dbname": "postgres",
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
    }
    try:
        with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
            names = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")]
            for name in names:
                match = pattern.match(name)
                if match is None or _process_alive(int(match.group(1))):
                    continue
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass  # not ours to drop (another owner) or no server yet: the run itself will say


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_keepdb) -> None:
    if django_db_keepdb:
        return  # --reuse-db keeps one fixed name on purpose
    suffix = _run_suffix()
    for database in settings.DATABASES.values():
        test = database.setdefault("TEST", {})
        test["NAME"] = f"{test.get('NAME') or 'test_' + database['NAME']}_{suffix}"
        _drop_stale_test_databases(database, suffix.split("_p")[0])


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        # Everything but the dossier history: tests that need one generate it.
        call_command("load_demo", dossiers=0, feedback=0, verbosity=0)


@pytest.fixture
def api(db) -> APIClient:
    return APIClient()


STRONG_PASSWORD = "x-Strong-pass-1"


@pytest.fixture
def make_user(db):
    """make_user("name", role="processing_officer", agency="so-y-te"): a user
    with a profile; agencies are the demo ones loaded with the data."""
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure

    def make(username: str, *, role: str = "citizen", agency: str | None = None):
        agency_obj = Agency.objects.get(code=agency) if agency else None
        return user_ensure(username=username, password=STRONG_PASSWORD, role=role, agency=agency_obj)

    return make


@pytest.fixture
def client_as(db):
    """client_as(user) -> an APIClient logged in as that user (None: anonymous)."""

    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def wsgi(db):
    """(lean application, the Django handler behind it, a bare Django handler),
    built inside the test's settings (tests/lean.py); the connection signals
    are held off as Django's test client does (they would end the test's
    transaction)."""
    from django.core.cache import cache
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from gisportal.fastpath import LeanPath
    from tests.lean import Counting

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    cache.clear()
    try:
        yield lambda: (lambda counting: (LeanPath(counting), counting, WSGIHandler()))(Counting())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        cache.clear()
