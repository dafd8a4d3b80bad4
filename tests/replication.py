"""A primary, its streaming replica and a PgBouncer in front of both, all
private to the test, on loopback (never the shared server on 5432).

The replica is a base backup of the primary (`pg_basebackup -R`: its
`primary_conninfo` and `standby.signal`), run as a hot standby. PgBouncer runs
in transaction mode as the `postgres` user (it refuses to run as root), with an
ini and a userlist of its own. Used by tests/test_read_replica.py."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from tests.clusters import PrivateCluster, private_cluster_unavailable
from tests.processes import free_port, stop

PGBOUNCER = "/usr/sbin/pgbouncer"
START_TIMEOUT_S = 20


def replication_unavailable() -> str | None:
    """Why this cannot run here (a skip reason), or None."""
    reason = private_cluster_unavailable()
    if reason is None and not Path(PGBOUNCER).exists():
        reason = "PgBouncer is not installed (apt-get install pgbouncer; ./portal test installs it)"
    return reason


def _owned_by_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


class PrimaryCluster(PrivateCluster):
    """A private cluster that streams its WAL to replicas (wal_level replica and
    replication connections from loopback are initdb's defaults)."""

    def init(self) -> None:
        super().init()
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nwal_keep_size = '256MB'\n")

    def app_database(self, name: str, *, role: str, password: str) -> None:
        """An empty database with the portal's extensions, owned by a login
        role whose session settings are the ones the portal would otherwise
        pass as startup `options`, which a pooler refuses (README)."""
        self.create_database(name)
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            role_id = sql.Identifier(role)
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role_id, sql.Literal(password)))
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), role_id))
            for setting, value in (("jit", "off"), ("max_parallel_workers_per_gather", "0"), ("timezone", "UTC")):
                conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(role_id, sql.Identifier(setting), value))
        with psycopg.connect(self.conninfo(name), autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))

    def wal_lsn(self) -> str:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]


class ReplicaCluster(PrivateCluster):
    """A hot standby made from a base backup of `primary`, streaming from it."""

    def __init__(self, primary: PrimaryCluster, **kwargs):
        super().__init__(**kwargs)
        self.primary = primary

    def init(self) -> None:
        self._run(
            "pg_basebackup",
            "--host=127.0.0.1",
            f"--port={self.primary.port}",
            "--username=postgres",
            f"--pgdata={self.data}",
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
        )
        # The copied postgresql.conf names the primary's port and socket folder:
        # later lines win.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nunix_socket_directories = '{self.data}'\nhot_standby = on\n")

    def _execute(self, statement: str):
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            return conn.execute(statement).fetchone()

    def pause_replay(self) -> None:
        self._execute("SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._execute("SELECT pg_get_wal_replay_pause_state()")[0] != "paused":
            assert time.monotonic() < deadline, "the replica did not pause its replay"
            time.sleep(0.05)

    def resume_replay(self) -> None:
        self._execute("SELECT pg_wal_replay_resume()")

    def wait_caught_up(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Until the replica has replayed everything the primary wrote so far."""
        target = self.primary.wal_lsn()
        deadline = time.monotonic() + timeout_s
        query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
        while not self._execute(query)[0]:
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica did not reach {target} within {timeout_s} s:\n{self.log_tail()}")
            time.sleep(0.05)


class PgBouncer:
    """PgBouncer in transaction mode on 127.0.0.1:`port`. `databases` maps the
    names clients use to (port, database) of a cluster on loopback; `users`
    maps roles to passwords (its userlist; the clusters trust loopback)."""

    def __init__(self, *, databases: dict[str, tuple[int, str]], users: dict[str, str]):
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="gisportal-pgbouncer-"))
        _owned_by_postgres(self.folder)
        self.log_path = self.folder / "pgbouncer.log"
        lines = [f"{alias} = host=127.0.0.1 port={port} dbname={name}" for alias, (port, name) in databases.items()]
        (self.folder / "userlist.txt").write_text("".join(f'"{user}" "{pw}"\n' for user, pw in users.items()))
        ini = self.folder / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            + "\n".join(lines)
            + f"""
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.folder / "userlist.txt"}
pool_mode = transaction
max_client_conn = 200
default_pool_size = 8
; Several server sessions, handed out in turn: whatever a client leaves on one
; session (a prepared statement, a TEMP table) is missing on its next transaction,
; as under production load, not only by bad luck.
min_pool_size = 3
server_round_robin = 1
; A server that is down does not fail its clients at once: they wait in the
; queue for query_wait_timeout (a 503 from the portal), while PgBouncer retries
; every server_login_retry.
server_login_retry = 1
server_connect_timeout = 2
query_wait_timeout = 3
logfile = {self.log_path}
"""
        )
        for path in (ini, self.folder / "userlist.txt"):
            _owned_by_postgres(path)
        self.process: subprocess.Popen | None = None

    def url(self, database: str, *, user: str, password: str) -> str:
        return f"postgis://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        as_postgres = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        self.process = subprocess.Popen(
            [PGBOUNCER, str(self.folder / "pgbouncer.ini")],
            cwd="/",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **as_postgres,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PgBouncer did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    def open_sessions(self, database: str, *, user: str, password: str, count: int = 3) -> None:
        """Makes PgBouncer open `count` server sessions for `database` (clients
        in a transaction at once), which round robin then hands out in turn."""
        conninfo = psycopg.conninfo.make_conninfo(
            host="127.0.0.1", port=self.port, user=user, password=password, dbname=database
        )
        clients = [psycopg.connect(conninfo, prepare_threshold=None) for _ in range(count)]
        try:
            pids = {client.execute("SELECT pg_backend_pid()").fetchone()[0] for client in clients}
            assert len(pids) == count, f"PgBouncer gave {len(pids)} server sessions to {count} transactions"
        finally:
            for client in clients:
                client.commit()  # a client gone mid-transaction would cost its server session
                client.close()

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> "PgBouncer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            stop(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)
