"""The production start (`./portal serve --production`): gunicorn reads
gisportal/gunicorn_conf.py, which preloads the application in the master,
replaces a worker after WEB_MAX_REQUESTS requests by a fork of it, and logs
every request. Run here against the test database with one worker replaced
every 5 requests."""

import os
import re
import secrets
import time
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.processes import free_port, start_gunicorn, stop

CONF = Path(settings.BASE_DIR) / "gisportal" / "gunicorn_conf.py"
NEAREST = "/api/v1/service-points/nearest/?lon=106.0763&lat=21.1861&limit=3"
REQUESTS = 24


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _backends(dbname: str, application: str) -> int:
    db = settings.DATABASES["default"]
    conninfo = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
    if db["PASSWORD"]:
        conninfo += f" password={db['PASSWORD']}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [dbname, application],
        ).fetchone()[0]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.django_db(transaction=True)
def test_the_production_start_preloads_recycles_and_logs(tmp_path):
    port = free_port()
    application = f"gunicorn-conf-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gisportal.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "DATABASE_URL": _database_url(),
        "PGAPPNAME": application,  # libpq names the server's connections: counted below
        "BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "1",
        "WEB_THREADS": "1",
        "WEB_MAX_REQUESTS": "5",
    }
    log = tmp_path / "gunicorn.log"
    server = start_gunicorn(["-c", str(CONF)], env=env, log=log, cwd=settings.BASE_DIR)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while "Booting worker with pid" not in log.read_text():
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.2)
        time.sleep(0.5)
        # The preloaded master and its idle worker hold no database connection.
        assert _backends(connection.settings_dict["NAME"], application) == 0, log.read_text()
        statuses = []
        for i in range(REQUESTS):
            # A new connection each time: a recycled worker closes the kept-alive one.
            answer = requests.get(base + NEAREST, headers={"X-Forwarded-Proto": "https", "Connection": "close"})
            statuses.append(answer.status_code)
            assert answer.headers["Content-Type"].startswith("application/json")
            assert answer.json()["type"] == "FeatureCollection"
            if i == 0:
                # Forked from the master that imported the application: the worker that has just
                # answered spent a few milliseconds of CPU, not the 1-2 s an import of Django,
                # DRF and GeoDjango takes.
                worker = int(re.findall(r"Booting worker with pid: (\d+)", log.read_text())[-1])
                assert _cpu_seconds(worker) < 0.5, (_cpu_seconds(worker), log.read_text())
    finally:
        stop(server)
    # Stopped with its workers: none of their connections outlives them (the suite drops this database next).
    deadline = time.monotonic() + 15
    while _backends(connection.settings_dict["NAME"], application):
        assert time.monotonic() < deadline, "gunicorn's connections outlive it"
        time.sleep(0.2)
    text = log.read_text()
    assert statuses == [200] * REQUESTS, text[-3000:]
    # Replaced every 5 requests (jitter 5 // 10 = 0): at least three new workers, each a fork of the master.
    assert len(re.findall(r"Autorestarting worker after current request", text)) >= 3, text[-3000:]
    assert len(re.findall(r"Booting worker with pid", text)) >= 4, text[-3000:]
    # The access log (standard output) has every look-up.
    assert text.count("GET /api/v1/service-points/nearest/") == REQUESTS, text[-3000:]
