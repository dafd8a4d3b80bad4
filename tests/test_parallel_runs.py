"""Two test runs at once on one PostgreSQL server each get their own test
database; databases of killed runs are dropped by the next run."""

import os
import subprocess

import psycopg
import pytest
from django.db import connection

from conftest import _drop_stale_test_databases, _run_suffix


def _server(database: dict) -> dict:
    params = {
        "dbname": "postgres",
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
        "host": database.get("HOST"),
        "port": database.get("PORT"),
    }
    return {k: v for k, v in params.items() if v}


def _names(database: dict) -> set[str]:
    with psycopg.connect(**_server(database), autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_the_test_database_is_named_for_this_run(db):
    assert connection.settings_dict["NAME"].endswith(f"_p{os.getpid()}")


@pytest.mark.django_db
def test_databases_of_dead_runs_are_dropped_and_live_ones_kept():
    database = connection.settings_dict
    host = _run_suffix().split("_p")[0]
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    stale, alive = f"test_gisportal_{host}_p{dead.pid}", f"test_gisportal_{host}_p{os.getppid()}"
    with psycopg.connect(**_server(database), autocommit=True) as conn:
        for name in (stale, alive):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        _drop_stale_test_databases(database, host)
        names = _names(database)
        assert stale not in names
        assert alive in names
    finally:
        with psycopg.connect(**_server(database), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{alive}"')
            conn.execute(f'DROP DATABASE IF EXISTS "{stale}"')
