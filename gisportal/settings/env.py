"""The one place that reads the environment.

Values come from the process environment; a `.env` file at the project root
(written by `./portal` on set-up) fills in what the environment leaves unset.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


_DOTENV = _read_dotenv(BASE_DIR / ".env")


def get(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, _DOTENV.get(name, default))


def get_bool(name: str, default: bool = False) -> bool:
    value = get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def get_list(name: str, default: str = "") -> list[str]:
    value = get(name, default) or ""
    return [item.strip() for item in value.split(",") if item.strip()]


def database(default_url: str | None, *, variable: str = "DATABASE_URL") -> dict:
    url = get(variable, default_url)
    # Connections persist for a minute, and each request checks the one it
    # reuses before the first query (CONN_HEALTH_CHECKS): after a database
    # restart a stale connection is replaced instead of failing the request.
    # DATABASE_CONN_MAX_AGE=0 for a server with a thread per request (Django's
    # runserver): each thread would keep its own connection open until it is
    # collected, and a burst of requests ran PostgreSQL out of connection slots.
    max_age = int(get("DATABASE_CONN_MAX_AGE", "60") or "60")
    config = dj_database_url.parse(url, conn_max_age=max_age, conn_health_checks=True)
    config["ENGINE"] = "django.contrib.gis.db.backends.postgis"
    # Web requests are short: JIT compilation cost ~30 ms on spatial pages that
    # run in 5-20 ms (290 of 650 ms for a busy z8 tile, since PostGIS functions
    # carry high planner costs), and a parallel worker added ~10 ms to a third
    # of bbox pages. Long analytical queries may SET LOCAL them back.
    config.setdefault("OPTIONS", {})["options"] = "-c jit=off -c max_parallel_workers_per_gather=0"
    # A database that does not answer (host down, packets dropped) must cost a
    # request a few seconds, not the operating system's minutes-long TCP
    # timeout: the request then gets a 503 (gisportal.middleware).
    config["OPTIONS"].setdefault("connect_timeout", int(get("DATABASE_CONNECT_TIMEOUT", "3") or "3"))
    # Server-side prepared statements only where asked for (prepare=True:
    # gisportal.prepared.prepared_cursor, the nearest look-up). Django's own
    # cursors bind client-side and are never prepared; its default (None)
    # would refuse even an explicit prepare=True.
    config["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
    # Test databases are cloned from a template that already has the
    # extensions, so the application role needs no superuser rights.
    config["TEST"] = {"TEMPLATE": get("DATABASE_TEST_TEMPLATE", "template_postgis")}
    if pooler():
        _pooled(config)
    return config


# --- Read replica and connection pooler (docs/decisions.md, "Read replica") ---


def pooler() -> str | None:
    """DATABASE_POOLER=pgbouncer: DATABASE_URL (and DATABASE_REPLICA_URL) name
    a PgBouncer in transaction mode; unset: PostgreSQL itself."""
    value = (get("DATABASE_POOLER") or "").strip().lower()
    if value not in {"", "pgbouncer"}:
        raise ValueError(f"DATABASE_POOLER must be 'pgbouncer' or unset, not {value!r}")
    return value or None


def _pooled(config: dict) -> None:
    """What a transaction-mode pooler needs: each transaction may run on another
    server session, so nothing may outlive a transaction on the session."""
    # PgBouncer refuses the `options` startup parameter; the same settings go on
    # the role or database instead (ALTER ROLE ... SET jit = off; README).
    config["OPTIONS"].pop("options", None)
    # A statement prepared on one server session is unknown to the next.
    config["OPTIONS"]["prepare_threshold"] = None
    # A named cursor (QuerySet.iterator()) lives in its transaction's session.
    config["DISABLE_SERVER_SIDE_CURSORS"] = True


def replica_database() -> dict | None:
    """The "replica" alias from DATABASE_REPLICA_URL, or None when unset. In
    tests it mirrors the test database (a test without a replica of its own
    reads what it wrote)."""
    if not get("DATABASE_REPLICA_URL"):
        return None
    config = database(None, variable="DATABASE_REPLICA_URL")
    config["TEST"] = {"MIRROR": "default"}
    return config


def redis_next_database(url: str | None) -> str | None:
    """The same Redis server as `url`, one database up (/0 -> /1, /15 -> /0):
    the default cache beside the broker, never in the broker's own database
    (clearing the cache flushes its database). None unless `url` is Redis."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        return None
    current = parts.path.strip("/")
    database = (int(current) + 1) % 16 if current.isdigit() else 1
    return urlunsplit(parts._replace(path=f"/{database}"))


def cache(url: str | None) -> dict:
    """The default cache: Redis at `url` through `gisportal.cache.FailOpenRedisCache`
    (a per-process memory cache stands in while Redis is unreachable), or a
    per-process memory cache when there is no URL."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "gisportal.cache.FailOpenRedisCache",
        "LOCATION": url,
        # A Redis that does not answer costs a request at most this long,
        # once every few seconds (the backend then skips it for a while).
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
    }
