"""Fixtures for end-to-end tests: the project's own server, run as a real
HTTP process against the pytest-django test database (which the root
conftest has already filled with the demo data). A plugin loaded by the
root conftest, so every app's tests share one server per session."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from tests.processes import CELERY, PrivateRedis, celery_worker_command, free_port, kill_group, stop

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT_S = 30


def _database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the same server as `settings_dict`, which after
    django_db_setup names the test database."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    # A socket directory as host must be percent-encoded to fit in a URL.
    host = quote(settings_dict.get("HOST") or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgis://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def _wait_until_serving(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)  # not listening yet
    raise RuntimeError(f"the server did not answer {url} within {SERVER_START_TIMEOUT_S} s:\n{log_path.read_text()}")


WAIT_TIMEOUT_S = 40


def wait_for(what: str, check: Callable[[], object], *, timeout_s: float = WAIT_TIMEOUT_S, logs: tuple[Path, ...] = ()):
    """check()'s first truthy value, polled; fails naming `what` and the logs' tails."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
            pytest.fail(f"not within {timeout_s} s: {what}\n{tails}")
        time.sleep(0.1)
    return value


def process_env(django_db_blocker, **extra: str) -> dict[str, str]:
    """The environment of a process (server, worker) on the test database."""
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        # pytest-django creates the test database only when some collected
        # test asks for the database; otherwise this would be the real one.
        # Never serve (or load demo data into) a developer's database.
        assert name.startswith("test_"), f"not a test database: {name} (collect a test that uses `db`)"
        database_url = _database_url(connection.settings_dict)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gisportal.settings.test",
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def own_connection(*, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg connection of its own to the test database, outside the
    test's transaction: what it commits, the server, the workers and the
    test itself see at once (READ COMMITTED)."""
    db = connection.settings_dict
    params = {"dbname": db["NAME"], "user": db["USER"], "password": db["PASSWORD"], "host": db["HOST"]}
    with psycopg.connect(
        **{k: v for k, v in params.items() if v}, port=db["PORT"] or None, autocommit=autocommit
    ) as own:
        yield own


def commit_sql(sql: str, params=()) -> None:
    """Runs one statement and commits it, whatever the test's transaction."""
    with own_connection(autocommit=True) as own:
        own.execute(sql, params)


@contextmanager
def runserver(env: dict[str, str], log_dir: Path, *, ready_path: str = "/map/") -> Iterator[str]:
    """`manage.py runserver` on a free port with `env`, its log in `log_dir`
    (`server.log`); yields its base URL once it answers `ready_path` with 200,
    stops it on exit."""
    port = free_port()
    log_path = log_dir / "server.log"
    # runserver makes a thread per request: with persistent connections each
    # thread's stayed open until collected, and 30 quick requests under a busy
    # suite took PostgreSQL's last connection slots (a 503 in the middle of
    # tests/test_cache_fail_open.py). Django's advice: none with runserver.
    env = {"DATABASE_CONN_MAX_AGE": "0", **env}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(f"{base_url}{ready_path}", process, log_path)
        yield base_url
    finally:
        stop(process)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[str]:
    """Base URL of `manage.py runserver` serving the test database.

    The test database must outlive the server: this fixture depends on
    django_db_setup, so pytest tears it down (and stops the server, closing
    its connections) before the database is dropped."""
    env = process_env(django_db_blocker)
    with runserver(env, tmp_path_factory.mktemp("live_server")) as base_url:
        yield base_url


# --- A server and a Celery worker sharing a private broker ------------------------
# For end-to-end tests of work that goes through the queue (registry imports).
# The web process sends the task to Redis, a worker process runs it against
# the same test database. Both use a Redis database of their own, emptied on
# start, so a developer's worker or another test run never takes the message
# (the settings read the broker from REDIS_URL; the queue name is fixed).

QUEUE_REDIS_DATABASES = range(8, 16, 2)  # each with the cache one database up


@pytest.fixture(scope="module")
def private_broker_url(worker_id) -> str:
    """One Redis database per pytest-xdist worker: modules of one worker run one
    after the other (and purge what an earlier one left), while two workers'
    modules run at once and must never share a queue. A random pick put the
    feedback page's worker and the notifications' worker on the same database
    one run in eight, each taking the other's tasks against the wrong test
    database (the SMS code that never arrived)."""
    number = 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))
    return f"redis://127.0.0.1:6379/{QUEUE_REDIS_DATABASES[number % len(QUEUE_REDIS_DATABASES)]}"


def _wait_for_log_line(process: subprocess.Popen, log_path: Path, text: str) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while text not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            log = log_path.read_text()
            raise RuntimeError(f"no {text!r} from the process within {SERVER_START_TIMEOUT_S} s:\n{log}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def queue_live_server_url(django_db_setup, django_db_blocker, tmp_path_factory, private_broker_url) -> Iterator[str]:
    """Like live_server_url, but its tasks go to the private broker."""
    env = process_env(django_db_blocker, REDIS_URL=private_broker_url)
    with runserver(env, tmp_path_factory.mktemp("queue_live_server")) as base_url:
        yield base_url


def purge_broker(env: dict[str, str]) -> None:
    """Drop messages left on the broker of `env` by an earlier, interrupted
    run; purging from the worker (--purge) would race with the first task a
    test sends."""
    subprocess.run(
        [str(CELERY), "-A", "gisportal", "purge", "-f"], cwd=PROJECT_ROOT, env=env, capture_output=True, check=True
    )


@contextmanager
def celery_worker(
    env: dict[str, str], log_dir: Path, *, beat: bool = False, queues: str | None = None, cwd: Path = PROJECT_ROOT
) -> Iterator[subprocess.Popen]:
    """A Celery worker (solo pool) with `env`, in a session of its own so that
    `kill_group` kills it with its embedded beat (`beat`: the outbox sweep);
    yields it once ready (its log at `process.log_path`), stops it on exit.
    `queues` (comma-separated) limits it to those queues (-Q); `cwd` is its
    working directory (another host's: `env` then needs PYTHONPATH)."""
    log_path = log_dir / "worker.log"
    with log_path.open("a") as log:
        process = subprocess.Popen(
            celery_worker_command(
                loglevel="INFO", queue=queues, beat_schedule=log_dir / "celerybeat-schedule" if beat else None
            ),
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log_path = log_path
    try:
        _wait_for_log_line(process, log_path, " ready.")
        yield process
    finally:
        if process.poll() is None:
            stop(process)
        kill_group(process)  # an embedded beat left behind


class WorkerHolder:
    """A Celery worker (with beat) that a test module's tests share: started
    when a test first needs one (`start`), SIGKILLed with its beat by a test
    (`kill`, a machine dying) and started afresh by the next `start`; stopped
    at the end (`stop`). Each worker logs to a folder of its own."""

    def __init__(self, env: dict[str, str], folder: Path):
        self.env, self.folder = env, folder
        self.process: subprocess.Popen | None = None
        self._context = None
        self._started = 0

    def start(self) -> subprocess.Popen:
        if self.process is None:
            self._started += 1
            log_dir = self.folder / f"worker-{self._started}"
            log_dir.mkdir()
            self._context = celery_worker(self.env, log_dir, beat=True)
            self.process = self._context.__enter__()
        return self.process

    def kill(self) -> None:
        if self.process is not None:
            kill_group(self.process)
            self.stop()

    def stop(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
        self.process = self._context = None


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory, private_broker_url):
    """A Celery worker (solo pool) on the private broker and the test
    database; its log is at `process.log_path`."""
    env = process_env(django_db_blocker, REDIS_URL=private_broker_url)
    purge_broker(env)
    with celery_worker(env, tmp_path_factory.mktemp("celery_worker")) as process:
        yield process


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own, started; the test may stop it and
    start it again (on the same port)."""
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
