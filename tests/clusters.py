"""A PostgreSQL cluster of our own, for the tests and drills that stop and
restart the database: on a free loopback port, never the shared server on
5432 (a private redis-server is `tests.processes.PrivateRedis`).

PostgreSQL refuses to run as root, so as root the cluster is created and
run as the `postgres` user (`su`); otherwise as the user running the test."""

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from tests.processes import free_port

EXTENSIONS = ("postgis", "unaccent", "pg_trgm", "btree_gist")
START_TIMEOUT_S = 30


def postgres_bindir() -> Path | None:
    """The newest installed server's bin folder (Debian's layout), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def private_cluster_unavailable() -> str | None:
    """Why a private cluster cannot be made here (a skip reason), or None."""
    if postgres_bindir() is None:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); ./portal setup installs them"
    if os.geteuid() == 0 and shutil.which("su") is None:
        return "running as root without `su` to run PostgreSQL as the postgres user"
    if not list(Path("/usr/share/postgresql").glob("*/extension/postgis.control")):
        return "PostGIS is not installed for the server (postgresql-NN-postgis-3)"
    return None


class Started:
    """A server started on entering and destroyed on leaving, also when its
    start fails half-way: subclasses give `start` and `destroy`."""

    def start(self) -> None:
        raise NotImplementedError

    def destroy(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()


class PrivateCluster(Started):
    """initdb on a fresh folder under /tmp, trust authentication on
    127.0.0.1:`port`, superuser `postgres`. Use as a context manager: the
    cluster is stopped and its folder removed on exit."""

    def __init__(self, *, port: int | None = None, log_name: str = "server.log"):
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError(private_cluster_unavailable())
        self.bindir = bindir
        self.port = port or free_port()
        self.data = Path(tempfile.mkdtemp(prefix="gisportal-pg-"))
        self.log_path = self.data / log_name
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.data, "postgres", "postgres")

    # --- running commands as the cluster's owner -------------------------------

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self._as_root:
            command = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]
        # cwd "/": the postgres user may not be allowed into the caller's folder.
        return subprocess.run(command, cwd="/", capture_output=True, text=True, check=check)

    # --- life cycle ---------------------------------------------------------------

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--auth-local=trust",
            "--auth-host=trust",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.data}'\n"
                # A scratch cluster: durability against an OS crash is not
                # what is tested (stops are clean or of PostgreSQL alone).
                "fsync = off\nfull_page_writes = off\n"
            )

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self.init()
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"the private cluster did not start: {result.stderr}\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends the sessions and shuts down cleanly; `immediate` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def destroy(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.data, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # --- databases -----------------------------------------------------------------

    def conninfo(self, dbname: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname)

    def url(self, dbname: str) -> str:
        """A DATABASE_URL for the portal (as the superuser `postgres`)."""
        return f"postgis://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str, *, extensions: tuple[str, ...] = EXTENSIONS) -> str:
        """An empty database with the portal's extensions; returns its URL."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(name)))
        with psycopg.connect(self.conninfo(name), autocommit=True) as conn:
            for extension in extensions:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
        return self.url(name)
