"""The portal on a primary and its streaming replica, both behind PgBouncer in
transaction mode: the project's own server (runserver) with DATABASE_URL and
DATABASE_REPLICA_URL naming PgBouncer, DATABASE_POOLER=pgbouncer.

Which side answered is seen in the data, not in a header: with the replica's
replay paused, a service point inserted on the primary is the nearest point of
its place on the primary and missing on the replica.

One primary, replica and PgBouncer for the module, its data copied from the
session's test database, then a few seconds per test."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from tests.live import runserver, wait_for
from tests.replication import PgBouncer, PrimaryCluster, ReplicaCluster, replication_unavailable

pytestmark = [
    pytest.mark.skipif(replication_unavailable() is not None, reason=str(replication_unavailable())),
    # The session's test database, which the primary's data is copied from, is
    # created only when a collected test asks for the database.
    pytest.mark.django_db,
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ROLE, PASSWORD, DATABASE = "portal", "portal-replica-test", "portal"
MAX_LAG_S = 5.0
CHECK_S = 0.25
CITIZEN, CITIZEN_PASSWORD, CITIZEN_ID = "replica_citizen", "x-Strong-pass-1", "027095007777"
NOT_USABLE = "read replica not usable"
USABLE_AGAIN = "read replica usable again"


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# The citizen of the tests, and a procedure without required components (the
# demo ones ask for files), made on the primary by the portal's own services.
_SETUP_SCRIPT = f"""
import json
from dossiers.models import Procedure, Sector
from gisportal.accounts.models import Agency, Profile
from gisportal.accounts.services import user_ensure
from layers.models import Layer
user = user_ensure(username={CITIZEN!r}, password={CITIZEN_PASSWORD!r}, role="citizen")
Profile.objects.filter(user=user).update(id_number={CITIZEN_ID!r}, full_name="Nguyễn Văn Bản Sao")
sector = Sector.objects.create(code="replica-test", name="Lĩnh vực thử nghiệm", name_en="Test sector")
procedure = Procedure.objects.create(
    code="9.990101", name="Thủ tục thử (bản sao)", level="province", processing_days=3,
    sector=sector, agency=Agency.objects.get(code="so-tp"), online_level="full", fee_vnd=0,
)
layer = Layer.objects.filter(visibility="public").order_by("slug").first()
print(json.dumps({{"procedure": procedure.code, "collection": layer.slug}}))
"""


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:
    """Primary, replica, PgBouncer. The primary's data is a copy of the session's
    test database (migrated, the demo data without dossiers): pg_dump and
    pg_restore take about 3 s where migrate and the demo loaders take 25 s."""
    dump = tmp_path_factory.mktemp("replica_dump") / "portal.pgc"
    with django_db_blocker.unblock():
        source = connection.settings_dict
    assert source["NAME"].startswith("test_"), f"not a test database: {source['NAME']}"
    source_conninfo = psycopg.conninfo.make_conninfo(
        host=source["HOST"] or None,
        port=source["PORT"] or None,
        user=source["USER"] or None,
        password=source["PASSWORD"] or None,
        dbname=source["NAME"],
    )
    _run(["pg_dump", "--format=custom", "--schema=public", "--no-owner", "--no-privileges", f"--file={dump}"]
         + [f"--dbname={source_conninfo}"])  # fmt: skip
    with PrimaryCluster() as primary:
        primary.app_database(DATABASE, role=ROLE, password=PASSWORD)
        target = f"host=127.0.0.1 port={primary.port} user={ROLE} dbname={DATABASE}"
        # As the application role, everything but the schema `public` itself
        # (the database has it) and PostGIS's own table, which only its owner
        # (the superuser) may fill.
        listing = _run(["pg_restore", "--list", str(dump)]).splitlines(True)
        postgis = [line for line in listing if "spatial_ref_sys" in line]
        for lines, conninfo in (
            ([line for line in listing if "SCHEMA - public" not in line and line not in postgis], target),
            (postgis, primary.conninfo(DATABASE)),
        ):
            chosen = dump.with_suffix(".list")
            chosen.write_text("".join(lines))
            _run(["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
                 + [f"--use-list={chosen}", f"--dbname={conninfo}", str(dump)])  # fmt: skip
        direct = {
            **_base_env(),
            "DATABASE_URL": f"postgis://{ROLE}:{PASSWORD}@127.0.0.1:{primary.port}/{DATABASE}",
        }
        setup = json.loads(_manage(direct, "shell", "-c", _SETUP_SCRIPT).strip().splitlines()[-1])
        with ReplicaCluster(primary) as replica:
            databases = {DATABASE: (primary.port, DATABASE), f"{DATABASE}_replica": (replica.port, DATABASE)}
            with PgBouncer(databases=databases, users={ROLE: PASSWORD}) as bouncer:
                for name in databases:
                    bouncer.open_sessions(name, user=ROLE, password=PASSWORD)
                yield {"primary": primary, "replica": replica, "bouncer": bouncer, **setup}


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{command[0]}: {result.stderr[-3000:]}"
    return result.stdout


def _base_env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "gisportal.settings.test", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def server(stack, tmp_path_factory) -> Iterator[dict]:
    bouncer = stack["bouncer"]
    env = {
        **_base_env(),
        "DATABASE_URL": bouncer.url(DATABASE, user=ROLE, password=PASSWORD),
        "DATABASE_REPLICA_URL": bouncer.url(f"{DATABASE}_replica", user=ROLE, password=PASSWORD),
        "DATABASE_POOLER": "pgbouncer",
        "DATABASE_REPLICA_MAX_LAG_S": str(MAX_LAG_S),
        "DATABASE_REPLICA_CHECK_S": str(CHECK_S),
        "DATABASE_REPLICA_STICKY_S": "60",
    }
    log_dir = tmp_path_factory.mktemp("replica_server")
    with runserver(env, log_dir) as base_url:
        yield {"url": base_url, "log": log_dir / "server.log"}
    log = (log_dir / "server.log").read_text()
    assert "Traceback" not in log, log[-5000:]


# --- helpers ---------------------------------------------------------------------


def _primary_sql(stack, statement: str, params=()):
    with psycopg.connect(stack["primary"].conninfo(DATABASE), autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def _fresh_replay(stack) -> float:
    """A commit on the primary that the replica has replayed: the replica's
    lag counts from now once its replay is paused. Returns time.monotonic()."""
    # A commit that writes: one that only takes a transaction id logs no commit record.
    with psycopg.connect(stack["primary"].conninfo(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS heartbeat (at timestamptz)")
        conn.execute("INSERT INTO heartbeat VALUES (now())")
    stack["replica"].wait_caught_up()
    return time.monotonic()


def _insert_point(stack, *, code: str, lon: float, lat: float) -> None:
    """A copy of CENTRE-MAIN at (lon, lat), written on the primary only."""
    columns = [
        row[0]
        for row in _primary_sql(
            stack,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'layers_servicepoint' "
            "AND column_name <> 'id' AND is_generated = 'NEVER' ORDER BY ordinal_position",
        )
    ]
    values = {"code": "%(code)s", "name": "%(code)s", "geom": "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"}
    select = ", ".join(values.get(column, column) for column in columns)
    _primary_sql(
        stack,
        f"INSERT INTO layers_servicepoint ({', '.join(columns)}) "
        f"SELECT {select} FROM layers_servicepoint WHERE code = 'CENTRE-MAIN'",
        {"code": code, "lon": lon, "lat": lat},
    )


def _nearest_code(base_url: str, *, lon: float, lat: float, session=requests) -> str:
    response = session.get(f"{base_url}/api/v1/service-points/nearest/", params={"lon": lon, "lat": lat}, timeout=10)
    assert response.status_code == 200, response.text[:500]
    return response.json()["features"][0]["properties"]["code"]


def _log_count(server, text: str) -> int:
    return server["log"].read_text().count(text)


@pytest.fixture
def paused(stack, server) -> Iterator[float]:
    """The replica in use by the server, then its replay paused right after a
    commit it replayed; yields when (monotonic) its lag started; resumes and
    waits for it to catch up."""
    _wait_replica_usable(server)
    started = _fresh_replay(stack)
    stack["replica"].pause_replay()
    try:
        yield started
    finally:
        stack["replica"].resume_replay()
        stack["replica"].wait_caught_up()


def _wait_replica_usable(server) -> None:
    """Until the server's router reads from the replica again (after a test that
    made it fall back): its log says so, or it never said otherwise."""

    def usable() -> bool:
        _nearest_code(server["url"], lon=106.07, lat=21.18)  # a stale-OK read makes the router check
        return _log_count(server, NOT_USABLE) == _log_count(server, USABLE_AGAIN)

    wait_for("the replica usable again", usable, timeout_s=30, logs=(server["log"],))


# --- tests ------------------------------------------------------------------------


def test_stale_ok_reads_come_from_the_replica_until_it_lags_beyond_the_bound(stack, server, paused):
    lon, lat = 106.0712, 21.1834
    _insert_point(stack, code="REPLICA-MARK-1", lon=lon, lat=lat)
    # The primary has it (independently of the portal): it is the nearest point there.
    on_primary = _primary_sql(
        stack,
        "SELECT code FROM layers_servicepoint WHERE is_active "
        "ORDER BY geom::geography <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography LIMIT 1",
        (lon, lat),
    )
    assert on_primary == [("REPLICA-MARK-1",)]
    warnings_before = _log_count(server, NOT_USABLE)

    # Within the bound: the nearest look-up reads the replica, which lacks it...
    assert time.monotonic() - paused < MAX_LAG_S - 2, "too slow to test inside the lag bound"
    assert _nearest_code(server["url"], lon=lon, lat=lat) != "REPLICA-MARK-1"
    # ...while a read that is not stale-OK (the service point list) reads the primary.
    listed = requests.get(f"{server['url']}/api/v1/service-points/", params={"q": "REPLICA-MARK-1"}, timeout=10)
    assert listed.status_code == 200 and "REPLICA-MARK-1" in listed.text

    # Beyond the bound the same read falls back to the primary, with one warning.
    found_at = wait_for(
        "the nearest look-up falling back to the primary",
        lambda: _nearest_code(server["url"], lon=lon, lat=lat) == "REPLICA-MARK-1" and time.monotonic(),
        timeout_s=MAX_LAG_S + 10,
        logs=(server["log"],),
    )
    # (The lag counts from the commit, a few milliseconds before `paused`.)
    assert found_at - paused >= MAX_LAG_S - 0.5
    for _ in range(5):
        assert _nearest_code(server["url"], lon=lon, lat=lat) == "REPLICA-MARK-1"
    assert _log_count(server, NOT_USABLE) == warnings_before + 1
    assert "replay lag" in server["log"].read_text().split(NOT_USABLE)[-1].splitlines()[0]


def test_a_citizen_sees_the_dossier_just_submitted_while_the_replica_is_behind(stack, server, paused):
    lon, lat = 106.0402, 21.1533
    _insert_point(stack, code="REPLICA-MARK-2", lon=lon, lat=lat)
    citizen = requests.Session()
    token = citizen.post(
        f"{server['url']}/api/v1/auth/token/", json={"username": CITIZEN, "password": CITIZEN_PASSWORD}, timeout=10
    )
    assert token.status_code == 200, token.text[:500]
    citizen.headers["Authorization"] = f"Token {token.json()['token']}"
    submitted = citizen.post(
        f"{server['url']}/api/v1/dossiers/",
        json={
            "procedure": stack["procedure"],
            "applicant_name": "Nguyễn Văn Bản Sao",
            "applicant_id_number": CITIZEN_ID,
            "applicant_address": "Số 1 đường Lý Thái Tổ, Bắc Ninh",
            "applicant_phone": "0912 345 678",
            "channel": 2,
            "receiving_point": "CENTRE-MAIN",
            "result_delivery": "desk",
        },
        timeout=10,
    )
    assert submitted.status_code == 201, submitted.text[:1000]
    code = submitted.json()["code"]
    # The replica has not replayed it; the citizen reads it anyway.
    on_replica = psycopg.connect(stack["replica"].conninfo(DATABASE), autocommit=True)
    with on_replica:
        assert on_replica.execute("SELECT count(*) FROM dossiers_dossier WHERE code = %s", [code]).fetchone() == (0,)
    mine = citizen.get(f"{server['url']}/api/v1/dossiers/", timeout=10)
    assert mine.status_code == 200 and code in mine.text
    lookup = requests.get(f"{server['url']}/api/v1/dossiers/lookup/", params={"code": code}, timeout=10)
    assert lookup.status_code == 200 and code in lookup.text
    # The write left a cookie: for a while this client's stale-OK reads come
    # from the primary too, while another client's still come from the replica.
    assert "db_primary_until" in citizen.cookies
    assert time.monotonic() - paused < MAX_LAG_S, "too slow to test inside the lag bound"
    assert _nearest_code(server["url"], lon=lon, lat=lat, session=citizen) == "REPLICA-MARK-2"
    assert _nearest_code(server["url"], lon=lon, lat=lat) != "REPLICA-MARK-2"


def test_public_reads_answer_from_the_primary_while_the_replica_is_down(stack, server):
    _wait_replica_usable(server)
    replica = stack["replica"]
    warnings_before = _log_count(server, NOT_USABLE)
    replica.stop()
    try:
        # The router learns it at its next check (every CHECK_S); a request
        # sent to the replica before that waits in PgBouncer's queue for its
        # query_wait_timeout (3 s here) and gets a 503, never a 500.
        def noticed() -> bool:
            assert requests.get(f"{server['url']}/map/", timeout=10).status_code in (200, 503)
            return _log_count(server, NOT_USABLE) > warnings_before

        wait_for("the router noticing", noticed, timeout_s=15, logs=(server["log"],))
        # Refused at once, or (behind PgBouncer, which queues the probe until its wait
        # timeout; or on a loaded machine) not answered within the probe's deadline.
        reason = server["log"].read_text().split(NOT_USABLE)[-1].splitlines()[0]
        assert "unreachable" in reason or "no answer within" in reason, reason
        for path in (
            "/map/",
            "/api/v1/service-points/nearest/?lon=106.07&lat=21.18",
            "/ogc/collections",
            f"/ogc/collections/{stack['collection']}/items?limit=5",
            f"/tiles/{stack['collection']}/12/3261/1800.pbf",
        ):
            response = requests.get(f"{server['url']}{path}", timeout=10)
            assert response.status_code in (200, 204), (path, response.status_code, response.text[:300])
        assert _log_count(server, NOT_USABLE) == warnings_before + 1
    finally:
        replica.start()
    # A restarted standby reports no replay time until it replays a commit;
    # on this idle primary that needs one (and its walreceiver, which retries
    # every few seconds on a busy machine).
    _fresh_replay(stack)
    _wait_replica_usable(server)


def test_pgbouncer_transaction_mode_serves_prepared_reads_tiles_and_items(stack, server):
    """Through PgBouncer in transaction mode: many nearest look-ups (the read
    that prepares its statement without a pooler) on whatever server session
    PgBouncer hands out, a registry tile and OGC API items."""
    _wait_replica_usable(server)
    for i in range(12):
        assert _nearest_code(server["url"], lon=106.0 + i * 0.01, lat=21.1 + i * 0.005)
    collection = stack["collection"]
    items = requests.get(f"{server['url']}/ogc/collections/{collection}/items", params={"limit": 5}, timeout=10)
    assert items.status_code == 200 and items.json()["features"], items.text[:300]
    tile = requests.get(f"{server['url']}/tiles/{collection}/12/3261/1800.pbf", timeout=10)
    assert tile.status_code in (200, 204), tile.text[:300]


_IMPORT_SCRIPT = """
import json, tempfile
from pathlib import Path
from layers.registries.importing import import_job_create, layer_import
from layers.tests.fixtures_registry import make_layer, sample_points, write_csv
layer = make_layer("replica-import")
path = write_csv(sample_points(60), Path(tempfile.mkdtemp()) / "points.csv")
job = import_job_create(
    layer=layer, acting_user=None, source_name="points.csv", mode="replace", path=path, enqueue=False
)
job = layer_import(job=job)
print(json.dumps({"status": job.status, "imported": job.rows_imported, "features": layer.features.count()}))
"""


def test_a_registry_import_runs_through_pgbouncer(stack, tmp_path):
    """The import stages its rows between transactions: through PgBouncer in
    transaction mode (round robin over its server sessions) it must not lean on
    one session."""
    bouncer = stack["bouncer"]
    env = {
        **_base_env(),
        "DATABASE_URL": bouncer.url(DATABASE, user=ROLE, password=PASSWORD),
        "DATABASE_POOLER": "pgbouncer",
        "DJANGO_MEDIA_ROOT": str(tmp_path),
    }
    result = json.loads(_manage(env, "shell", "-c", _IMPORT_SCRIPT).strip().splitlines()[-1])
    assert result == {"status": "succeeded", "imported": 60, "features": 60}
