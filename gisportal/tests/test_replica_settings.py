"""The read replica's settings: nothing changes without DATABASE_REPLICA_URL;
with it (and DATABASE_POOLER=pgbouncer) the settings a process gets. Each case
is a fresh `python -c` with its own environment, as a deployment would start.
The routing itself is tested end to end in tests/test_read_replica.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connections

from gisportal.dbrouting import read_connection

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
_PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "databases": settings.DATABASES,
    "routers": settings.DATABASE_ROUTERS,
    "middleware": settings.MIDDLEWARE,
}, default=str))
"""


def _settings_with(**extra: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
    env.update(
        {"DJANGO_SETTINGS_MODULE": "gisportal.settings.test", "DATABASE_URL": "postgis://u:p@db.internal/portal"}
    )
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )


def test_without_a_replica_url_there_is_one_database_and_no_router():
    assert "DATABASE_REPLICA_URL" not in os.environ
    assert list(settings.DATABASES) == ["default"]
    assert settings.DATABASE_ROUTERS == []
    assert "gisportal.dbrouting.ReplicaRoutingMiddleware" not in settings.MIDDLEWARE
    assert read_connection() is connections["default"]  # raw reads: the one database
    default = _settings_with()
    assert default.returncode == 0, default.stderr
    shown = json.loads(default.stdout)
    assert list(shown["databases"]) == ["default"] and shown["routers"] == []
    options = shown["databases"]["default"]["OPTIONS"]
    assert options["options"] == "-c jit=off -c max_parallel_workers_per_gather=0"
    assert options["prepare_threshold"] == 2**31 - 1
    assert shown["databases"]["default"]["DISABLE_SERVER_SIDE_CURSORS"] is False


def test_a_replica_url_adds_the_alias_router_and_middleware():
    result = _settings_with(DATABASE_REPLICA_URL="postgis://u:p@replica.internal/portal")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    replica = shown["databases"]["replica"]
    assert (replica["HOST"], replica["NAME"]) == ("replica.internal", "portal")
    # Tests without a replica of their own read the test database through it.
    assert replica["TEST"]["MIRROR"] == "default"
    assert shown["routers"] == ["gisportal.dbrouting.ReplicaRouter"]
    middleware = shown["middleware"]
    # Before the sessions: a session saved on the way out counts as a write.
    assert middleware.index("gisportal.dbrouting.ReplicaRoutingMiddleware") + 1 == middleware.index(
        "django.contrib.sessions.middleware.SessionMiddleware"
    )


def test_behind_pgbouncer_nothing_outlives_a_transaction_on_the_session():
    result = _settings_with(
        DATABASE_REPLICA_URL="postgis://u:p@bouncer.internal/portal_replica", DATABASE_POOLER="pgbouncer"
    )
    assert result.returncode == 0, result.stderr
    for alias in ("default", "replica"):
        database = json.loads(result.stdout)["databases"][alias]
        assert "options" not in database["OPTIONS"]  # PgBouncer refuses the startup parameter
        assert database["OPTIONS"]["prepare_threshold"] is None
        assert database["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_an_unknown_pooler_is_refused_by_name():
    result = _settings_with(DATABASE_POOLER="pgpool")
    assert result.returncode != 0
    assert "DATABASE_POOLER must be 'pgbouncer' or unset, not 'pgpool'" in result.stderr
