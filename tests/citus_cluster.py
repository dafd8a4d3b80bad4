"""A Citus cluster of our own on loopback: a coordinator and two workers,
each a private PostgreSQL cluster (`tests.clusters.PrivateCluster`) on a free
port with `shared_preload_libraries = 'citus'`. Used by tests/test_citus.py and
bench/national.py. All three run on this one host: the workers share its
cores and disk, so it shows correctness and routing, not the speed-up of
separate machines.

Citus comes from vendor/citus (`./portal test` and `./portal setup --citus`
build it when it is missing)."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from tests.clusters import EXTENSIONS, PrivateCluster, Started, postgres_bindir

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
# Citus first: it must be created before the others in a database it manages.
CITUS_EXTENSIONS = ("citus", *EXTENSIONS)
# A few shards per worker: enough to show placement and routing; the default
# (32) makes every DDL and multi-shard statement of a small test 32 tasks.
TEST_SHARD_COUNT = 8


def citus_installed() -> bool:
    bindir = postgres_bindir()
    if bindir is None:
        return False
    pkglibdir = subprocess.run(
        [str(bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(pkglibdir) and (Path(pkglibdir) / "citus.so").exists()


class CitusCluster(Started):
    """Coordinator + `workers` workers; a context manager that stops them all
    and removes their folders on exit."""

    def __init__(self, *, workers: int = WORKERS, shard_count: int = TEST_SHARD_COUNT):
        self.coordinator = PrivateCluster(log_name="coordinator.log")
        self.workers = [PrivateCluster(log_name=f"worker{i}.log") for i in range(1, workers + 1)]
        self.shard_count = shard_count

    @property
    def nodes(self) -> list[PrivateCluster]:
        return [self.coordinator, *self.workers]

    def _start_node(self, node: PrivateCluster) -> None:
        node.init()
        with (node.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "shared_preload_libraries = 'citus'\n"
                f"citus.shard_count = {self.shard_count}\n"
                # Loopback, trust authentication: the nodes talk without TLS.
                "citus.node_conninfo = 'sslmode=disable'\n"
                "max_connections = 200\n"
            )
        node.start()

    def start(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(self._start_node, self.nodes))

    def destroy(self) -> None:
        for node in self.nodes:
            node.destroy()

    def create_database(self, name: str) -> str:
        """The database on every node with Citus and the portal's extensions,
        the workers added to the coordinator's metadata; returns the
        coordinator's DATABASE_URL."""

        def create(node: PrivateCluster) -> None:
            node.create_database(name, extensions=CITUS_EXTENSIONS)

        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(create, self.nodes))
        with psycopg.connect(self.coordinator.conninfo(name), autocommit=True) as conn:
            for worker in self.workers:
                conn.execute("SELECT citus_add_node('127.0.0.1', %s)", [worker.port])
        return self.coordinator.url(name)

    def coordinator_conninfo(self, name: str) -> str:
        return self.coordinator.conninfo(name)

    def worker_ports(self) -> list[int]:
        return [worker.port for worker in self.workers]


def portal_env(url: str, *, citus: bool) -> dict[str, str]:
    """The environment of a portal process (manage.py, runserver) on `url`."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_DISTRIBUTION")}
    env.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="gisportal.settings.dev", DATABASE_CONN_MAX_AGE="0")
    if citus:
        env["DATABASE_DISTRIBUTION"] = "citus"
    return env


def manage(url: str, *args: str, citus: bool) -> str:
    """`manage.py ARGS` on `url`; its output. RuntimeError with the log when it fails."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=portal_env(url, citus=citus), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr[-4000:]}")
    return done.stdout


def portal_prepare(url: str, *, citus: bool) -> dict[str, float]:
    """migrate, on Citus `citus_distribute`, and the Bắc Ninh demo without a
    dossier history; the seconds each took."""
    took: dict[str, float] = {}
    steps = [("migrate", ["migrate", "--noinput", "-v0"])]
    if citus:
        steps.append(("citus_distribute", ["citus_distribute"]))
    steps.append(("load_demo", ["load_demo", "--dossiers", "0", "--feedback", "0", "-v0"]))
    for name, args in steps:
        started = time.monotonic()
        manage(url, *args, citus=citus)
        took[name] = round(time.monotonic() - started, 1)
    return took
