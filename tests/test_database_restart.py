"""PostgreSQL restarting under the portal: the production start serves a private cluster
that the test starts, stops and starts again (never the shared server).

While the database is down a request that needs it gets a 503 with
Retry-After within a few seconds (JSON for the API, a short page for
people); once it is back, requests succeed without restarting the portal,
including the first one on each persistent connection that the restart
made stale. No 500 at any point. About 10 s."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clusters import PrivateCluster, private_cluster_unavailable
from tests.processes import free_port, start_portal, stop

pytestmark = pytest.mark.skipif(private_cluster_unavailable() is not None, reason=str(private_cluster_unavailable()))

PROJECT_ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1/procedures/?limit=1"
PAGE = "/procedures/"
STATIC = "/static/maps/portal.css"
FAST_S = 3.0  # "a few seconds": the slowest answer allowed, outage or not


@pytest.fixture(scope="module")
def cluster():
    with PrivateCluster() as private:
        url = private.create_database("portal")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gisportal.settings.test", "DATABASE_URL": url}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=PROJECT_ROOT, env=env, check=True
        )
        private.database_url = url
        yield private


@contextmanager
def _server(database_url: str, log_path: Path) -> Iterator[str]:
    """The production start with one worker and one thread: every request reuses its one persistent
    connection, so the first request after a restart meets the stale one.
    Yields the base URL once it serves a static file (no database needed)."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gisportal.settings.test", "DATABASE_URL": database_url}
    args = ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "1"]
    process = start_portal(args, env=env, log=log_path, cwd=PROJECT_ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while _get(base, STATIC).status != 200:
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield base
    finally:
        stop(process)
    log = log_path.read_text()
    assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def portal(cluster, tmp_path_factory) -> Iterator[str]:
    with _server(cluster.database_url, tmp_path_factory.mktemp("restart") / "server.log") as base:
        assert _get(base, API).status == 200
        yield base


@dataclass
class Answer:
    path: str
    sent_at: float
    elapsed_s: float
    status: int  # 0: no HTTP answer at all
    content_type: str = ""
    retry_after: str | None = None
    body: bytes = b""


def _get(base: str, path: str, *, timeout_s: float = 30) -> Answer:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(base + path, timeout=timeout_s) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    except OSError:
        return Answer(path, started, time.monotonic() - started, 0)
    return Answer(
        path,
        started,
        time.monotonic() - started,
        status,
        headers.get("Content-Type", ""),
        headers.get("Retry-After"),
        body,
    )


class RequestStream:
    """Clients asking for the API and a page in a loop until stopped."""

    def __init__(self, base: str, *, clients: int = 3):
        self.base = base
        self.answers: list[Answer] = []
        self._running = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(clients)]

    def _loop(self, index: int) -> None:
        paths = [API, PAGE]
        turn = index
        while self._running.is_set():
            self.answers.append(_get(self.base, paths[turn % 2]))
            turn += 1
            time.sleep(0.02)

    def __enter__(self) -> "RequestStream":
        self._running.set()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._running.clear()
        for thread in self._threads:
            thread.join(timeout=60)


def _assert_unavailable_answer(answer: Answer) -> None:
    assert answer.retry_after == "5", answer
    if answer.path.startswith("/api/"):
        assert answer.content_type.startswith("application/json"), answer
        detail = json.loads(answer.body)["detail"]
        assert "Cơ sở dữ liệu tạm thời không sẵn sàng" in detail and "temporarily unavailable" in detail
    else:
        assert answer.content_type.startswith("text/html"), answer
        page = answer.body.decode()
        assert "Tạm thời không kết nối được cơ sở dữ liệu" in page and "cannot be reached" in page
        assert "Traceback" not in page


def test_the_first_requests_after_a_quiet_restart_succeed(cluster, portal):
    for path in (API, PAGE):
        assert _get(portal, path).status == 200

    cluster.restart()  # no request in between: the worker's connection is now stale

    answers = [_get(portal, path) for path in (API, PAGE, API, PAGE)]
    assert [a.status for a in answers] == [200, 200, 200, 200], answers


def test_the_nearest_look_up_prepares_its_statement_again_after_a_restart(cluster, portal):
    """The nearest statement is prepared once per connection: the one prepared
    before the restart died with the old connection, the new one prepares it again."""
    nearest = "/api/v1/service-points/nearest/?lon=106.07&lat=21.18&limit=3"
    assert [_get(portal, nearest).status for _ in range(3)] == [200, 200, 200]

    cluster.restart()

    answers = [_get(portal, nearest) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200], answers
    assert json.loads(answers[-1].body)["type"] == "FeatureCollection"


def test_a_restart_under_load_answers_503_fast_then_recovers(cluster, portal):
    with RequestStream(portal) as stream:
        time.sleep(1.0)
        cluster.stop()
        down_at = time.monotonic()
        time.sleep(3.0)
        up_from = time.monotonic()
        cluster.start()
        up_at = time.monotonic()
        time.sleep(2.0)

    answers = stream.answers
    statuses = {a.status for a in answers}
    assert statuses <= {200, 503}, sorted((a.status, a.path) for a in answers if a.status not in (200, 503))
    slowest = max(answers, key=lambda a: a.elapsed_s)
    assert slowest.elapsed_s < FAST_S, slowest

    outage = [a for a in answers if a.sent_at >= down_at and a.sent_at + a.elapsed_s <= up_from]
    assert len(outage) >= 20, len(outage)
    assert {a.status for a in outage} == {503}
    assert {a.path for a in outage} == {API, PAGE}
    for answer in {a.path: a for a in outage}.values():
        _assert_unavailable_answer(answer)

    after = [a for a in answers if a.sent_at >= up_at]
    assert len(after) >= 20, len(after)
    assert {a.status for a in after} == {200}, [(a.status, a.path) for a in after if a.status != 200][:5]


def test_a_database_that_does_not_answer_costs_seconds_not_minutes(tmp_path):
    """A host that takes the connection but never speaks (down behind a
    firewall, packets dropped): the connect timeout (3 s) ends the wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes the handshake; nobody ever answers
        url = f"postgis://nobody@127.0.0.1:{silent.getsockname()[1]}/portal"
        with _server(url, tmp_path / "server.log") as base:
            answers = [_get(base, path, timeout_s=20) for path in (API, PAGE)]
    assert [a.status for a in answers] == [503, 503], answers
    assert all(a.elapsed_s < 6 for a in answers), [a.elapsed_s for a in answers]
    for answer in answers:
        _assert_unavailable_answer(answer)
