"""Processes the end-to-end tests start: the one way to launch a Celery worker,
a private redis-server the test may stop and start, and the one way to stop
a child process."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

CELERY = Path(sys.executable).parent / "celery"
REDIS_SERVER = "redis-server"
START_TIMEOUT_S = 10


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_portal(args: list[str], *, env: dict, log: Path, cwd: Path) -> subprocess.Popen:
    """The production start (`python -m gisportal.serving`, what `./portal
    serve --production` runs) with `args` (--bind, --workers, --threads,
    --application), its output (errors and the access log) written to `log`."""
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "gisportal.serving", *args],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def celery_worker_command(*, loglevel: str, queue: str | None = None, beat_schedule: Path | None = None) -> list[str]:
    """A single-process worker without the cluster chatter (gossip, mingle,
    heartbeat) that only slows its start; `queue` keeps other workers away;
    `beat_schedule` (a file) runs Celery beat inside it (-B), which sends the
    outbox sweep."""
    command = [str(CELERY), "-A", "gisportal", "worker", "--pool", "solo", "--concurrency", "1"]
    if queue:
        command += ["-Q", queue]
    if beat_schedule:
        command += ["-B", "--schedule", str(beat_schedule)]
    return [*command, "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", loglevel]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process started with start_new_session=True and everything it
    started (a worker's embedded beat): a machine or container dying."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


class PrivateRedis:
    """A redis-server of the test's own on a free port, that the test may stop
    and start again on the same port (never the shared server on 6379). With
    `persistent` it keeps an append-only file, so a stop and start loses no
    queued message, as a production broker should; without, a stop empties it."""

    def __init__(self, folder: Path, *, persistent: bool = False):
        self.port = free_port()
        self.folder = folder
        self.persistent = persistent
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which(REDIS_SERVER) is not None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        appendonly = "yes" if self.persistent else "no"
        with (self.folder / "redis.log").open("a") as log:
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", appendonly, "--dir", str(self.folder)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(self.folder / 'redis.log').read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file (if any) and exits."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False
