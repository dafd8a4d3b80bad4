"""The production start (`./portal serve --production`: `python -m
gisportal.serving`, Granian): it preloads the application in the master,
replaces a worker that dies, logs every request, and hands the application
an environ without the process environment (the secrets). Run here against
the test database."""

import json
import os
import re
import secrets
import signal
import time
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.processes import free_port, start_portal, stop

NEAREST = "/api/v1/service-points/nearest/?lon=106.0763&lat=21.1861&limit=3"
HTTPS = {"X-Forwarded-Proto": "https"}


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


def _workers(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"Spawning worker-\d+ with PID: (\d+)", log.read_text())]


def _production_env(application: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gisportal.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "DATABASE_URL": _database_url(),
        "PGAPPNAME": application,  # libpq names the server's connections: counted below
    }


def _wait_serving(server, log: Path, workers: int = 1) -> None:
    deadline = time.monotonic() + 60
    while len(re.findall(r"Started worker-\d+", log.read_text())) < workers:
        assert time.monotonic() < deadline and server.poll() is None, log.read_text()
        time.sleep(0.2)


@pytest.mark.django_db  # the server reads the migrated test database; nothing here writes
def test_the_production_start_preloads_respawns_and_logs(tmp_path):
    port = free_port()
    application = f"serving-{secrets.token_hex(4)}"
    log = tmp_path / "server.log"
    args = ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"]
    server = start_portal(args, env=_production_env(application), log=log, cwd=settings.BASE_DIR)
    base = f"http://127.0.0.1:{port}"
    statuses = []
    try:
        _wait_serving(server, log)
        # The preloaded master and its worker, before any look-up, hold no database connection.
        assert _backends(connection.settings_dict["NAME"], application) == 0, log.read_text()
        (worker,) = _workers(log)
        for _ in range(3):
            answer = requests.get(base + NEAREST, headers=HTTPS, timeout=30)
            statuses.append(answer.status_code)
            assert answer.json()["type"] == "FeatureCollection"
        # Forked from the master that imported the application: the worker spent a few
        # milliseconds of CPU, not the 1-2 s an import of Django, DRF and GeoDjango takes.
        assert _cpu_seconds(worker) < 0.5, (_cpu_seconds(worker), log.read_text())

        _wait_logged(log, 3)
        os.kill(worker, signal.SIGKILL)  # a worker that dies (a crash, the OOM killer) is replaced
        _wait_serving(server, log, workers=2)
        replacement = _workers(log)[-1]
        assert replacement != worker
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(base + NEAREST, headers=HTTPS, timeout=30)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        statuses.append(answer.status_code)
        _wait_logged(log, 4)  # before the stop: a line not yet written when it came was lost (a slow machine)
    finally:
        stop(server)
    # Stopped with its workers: none of their connections outlives them (the suite drops this database next).
    deadline = time.monotonic() + 15
    while _backends(connection.settings_dict["NAME"], application):
        assert time.monotonic() < deadline, "the server's connections outlive it"
        time.sleep(0.2)
    text = log.read_text()
    assert statuses == [200] * 4, text[-3000:]
    # The access log (standard output) has every look-up, with its status.
    assert len(re.findall(r'"GET /api/v1/service-points/nearest/ HTTP/1.1" 200 ', text)) == 4, text[-3000:]


def _wait_logged(log, count: int) -> None:
    """Each request is logged after its answer is handed over: wait (10 s at
    most) for `count` look-ups' lines in the access log."""
    deadline = time.monotonic() + 10
    while log.read_text().count('"GET /api/v1/service-points/nearest/ HTTP/1.1" 200 ') < count:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("setting", "value"), [("WEB_WORKERS", "two"), ("WEB_THREADS", "0"), ("BIND", "127.0.0.1"), ("WEB_MAX_RSS", "1G")]
)
def test_a_bad_setting_is_named_before_anything_starts(setting, value):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "gisportal.serving"],
        env={**os.environ, setting: value},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert setting in result.stderr and repr(value) in result.stderr and "Traceback" not in result.stderr


def test_a_request_is_not_handed_the_process_environment(tmp_path):
    """Granian starts each request's environ from a copy of the process
    environment; the production start builds it without, so the secret key
    and the database password are in no request.META and no error report."""
    port = free_port()
    log = tmp_path / "server.log"
    env = {**_production_env("serving-echo"), "GISPORTAL_SERVING_CANARY": secrets.token_hex(8)}
    args = ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--application", "tests.serving_echo:application"]
    server = start_portal(args, env=env, log=log, cwd=settings.BASE_DIR)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_serving(server, log)
        keys = set(json.loads(requests.get(base + "/any?x=1", headers=HTTPS, timeout=30).text))
    finally:
        stop(server)
    assert {"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "HTTP_X_FORWARDED_PROTO"} <= keys
    assert {"wsgi.input", "wsgi.url_scheme"} <= keys
    leaked = keys & {"DJANGO_SECRET_KEY", "DATABASE_URL", "CACHE_URL", "GISPORTAL_SERVING_CANARY", "PATH", "HOME"}
    assert not leaked, leaked


def test_the_access_line_is_the_one_granian_writes():
    """`serving._access_logged` writes Granian's own access line (the same
    format, keys and time), also for an application that raises (a 500)."""
    import io
    import logging

    from granian import log as granian_log

    from gisportal import serving

    scope = _granian_scope("/api/v1/service-points/nearest/", "lon=106.07&lat=21.18")
    ours_out, granians_out = io.StringIO(), io.StringIO()
    granians = logging.getLogger("test.granian.access")
    granians.addHandler(logging.StreamHandler(granians_out))
    granians.setLevel(logging.INFO)
    granians.propagate = False
    kept, granian_log.access_logger = granian_log.access_logger, granians
    try:
        granian_line = granian_log.log_request_builder(serving.ACCESS_LOG_FORMAT)
        for status in (200, 404, None):
            started = time.time(), time.perf_counter()

            def runner(proto, scope, status=status):
                if status is None:
                    raise RuntimeError("the application failed")
                return status

            logged = serving._access_logged(runner, serving.ACCESS_LOG_FORMAT, logging.StreamHandler(ours_out))
            if status is None:
                with pytest.raises(RuntimeError):
                    logged(None, scope)
            else:
                assert logged(None, scope) == status
            granian_line(*started, _granian_keys(scope), status or 500)
    finally:
        granian_log.access_logger = kept

    def masked(text):  # the duration differs; the rest must not
        return re.sub(r'" (\d{3}) [\d.]+ ms "', r'" \1 D ms "', text)

    ours, granian = ours_out.getvalue(), granians_out.getvalue()
    assert len(ours.splitlines()) == 3 and '" 500 ' in ours.splitlines()[2], ours
    assert masked(ours) == masked(granian), (ours, granian)


def _granian_scope(path: str, query: str = "") -> dict:
    """A GET's environ as Granian's WSGI worker hands it to the runner (the keys the access line reads)."""
    return {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": query,
        "wsgi.url_scheme": "http",
    }


def _granian_keys(scope: dict) -> dict:
    """The request as Granian's access logger is handed it (granian/wsgi.py)."""
    return {
        "addr_remote": scope["REMOTE_ADDR"],
        "protocol": scope["SERVER_PROTOCOL"],
        "path": scope["PATH_INFO"],
        "qs": scope["QUERY_STRING"],
        "method": scope["REQUEST_METHOD"],
        "scheme": scope["wsgi.url_scheme"],
    }


@pytest.mark.parametrize("handlers", ["the start's", "another configuration's"])
def test_the_runner_has_no_process_environment_whichever_access_logger_writes(handlers):
    """`serving._wsgi_callback` in a worker: the access line written by the
    start (one stream handler, as `options` configures it) or by Granian's
    logger (any other configuration); either way the application's environ
    holds none of the process environment, and the request is logged."""
    import io
    import logging

    from gisportal import serving

    seen, out = {}, io.StringIO()

    def application(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    class Proto:
        def response_bytes(self, status, headers, body):
            self.status = status

    access = logging.getLogger("granian.access")
    kept_handlers, kept_propagate, kept_level = access.handlers, access.propagate, access.level
    access.handlers = [logging.StreamHandler(out)]
    if handlers != "the start's":
        access.handlers.append(logging.NullHandler())
    access.setLevel(logging.INFO)
    access.propagate = False
    scope = _granian_scope("/any")
    os.environ["GISPORTAL_SERVING_CANARY"] = "canary"
    try:
        runner = serving._wsgi_callback(application, {}, serving.ACCESS_LOG_FORMAT)
        assert runner(Proto(), scope) == 200
    finally:
        del os.environ["GISPORTAL_SERVING_CANARY"]
        access.handlers, access.propagate = kept_handlers, kept_propagate
        access.setLevel(kept_level)
    assert seen["PATH_INFO"] == "/any"
    assert not set(seen) & {"GISPORTAL_SERVING_CANARY", "PATH", "HOME", "DJANGO_SETTINGS_MODULE"}, set(seen)
    assert '"GET /any HTTP/1.1" 200 ' in out.getvalue(), out.getvalue()
