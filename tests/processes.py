"""Processes the end-to-end tests start: the one way to launch a Celery worker
and the one way to stop a child process."""

import subprocess
import sys
from pathlib import Path

CELERY = Path(sys.executable).parent / "celery"


def celery_worker_command(*, loglevel: str, queue: str | None = None) -> list[str]:
    """A single-process worker without the cluster chatter (gossip, mingle,
    heartbeat) that only slows its start; `queue` keeps other workers away."""
    command = [str(CELERY), "-A", "gisportal", "worker", "--pool", "solo", "--concurrency", "1"]
    if queue:
        command += ["-Q", queue]
    return [*command, "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", loglevel]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
