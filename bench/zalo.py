"""Zalo webhook acknowledgement: how long Zalo waits for the portal's 200.

Signed `user_send_text` events are posted over loopback HTTP to the production start
running the production settings and profile (gthread, cores + 1 workers x 4
threads, as `./portal serve --production`), one at a time on a kept-alive
connection; each answer is verified (signature, window, de-duplication by
message id), stored as a `ZaloEvent` row and its Celery task published once
committed. The baseline, measured in the same run against the same database
and Redis, is the floor of that work: one bare INSERT of an event row
(psycopg, autocommit) plus one LPUSH of a message of the same size to Redis.

Works in a scratch database of its own (`<main db>_zalo_bench`, created from
template_postgis, migrated, marked) and a private redis-server on a free
port; the developer's data and the shared Redis are never touched. The last
line is JSON.

    .venv/bin/python bench/zalo.py [--events 500] [--warmup 50]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
import redis  # noqa: E402
from common import (  # noqa: E402
    Server,
    baselines_left_out,
    conninfo_from_url,
    exit_on_sigterm,
    prepare_database,
    production_profile,
    say,
    scratch_database,
    summarize,
)

MARKER = "bench/zalo.py scratch database"
APP_ID = "bench-app"
SECRET = "bench-oa-secret-" + secrets.token_hex(8)


LEFT_OUT = {
    "baseline": "HTTP, Django's middleware and the view, the signature (SHA-256 MAC, app id, timestamp window), "
    "JSON parsing, the replay refusal's unique key, the task on its own broker connection, `published_at`",
    "the bench": "the Celery worker's handling of the event and the reply to Zalo (asynchronous, after the 200), "
    "Zalo's own network",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=500, help="timed webhook calls (and baseline rounds)")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--db-name", default=None)
    p.add_argument("--recreate", action="store_true", help="drop and recreate the scratch database first")
    return p.parse_args()


def event(user_id: str) -> dict:
    return {
        "app_id": APP_ID,
        "event_name": "user_send_text",
        "timestamp": str(int(time.time() * 1000)),
        "sender": {"id": user_id},
        "recipient": {"id": "bench-oa"},
        "message": {"msg_id": uuid.uuid4().hex, "text": "tra cứu 000.00.13.H04-260427-0001"},
    }


def signed(payload: dict, secret: str = SECRET) -> tuple[bytes, str]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    mac = hashlib.sha256(payload["app_id"].encode() + body + payload["timestamp"].encode() + secret.encode())
    return body, "mac=" + mac.hexdigest()


class Webhook:
    """A kept-alive connection to the webhook, as Zalo's sender would hold one."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, body: bytes, signature: str) -> tuple[int, float]:
        headers = {
            "Content-Type": "application/json",
            "X-ZEvent-Signature": signature,
            "Host": "127.0.0.1",
            # What the TLS proxy in front says (production redirects plain HTTP).
            "X-Forwarded-Proto": "https",
        }
        started = time.perf_counter_ns()
        try:
            self.connection.request("POST", "/zalo/webhook/", body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the connection (a worker replaced): reconnect, as a client would.
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.request("POST", "/zalo/webhook/", body=body, headers=headers)
            response = self.connection.getresponse()
        response.read()
        return response.status, time.perf_counter_ns() - started


def baseline(conninfo: str, redis_url: str, rounds: int, warmup: int) -> list[int]:
    """One INSERT of an event row (autocommit) and one LPUSH of a task-sized message."""
    queue = redis.Redis.from_url(redis_url)
    samples = []
    sql = (
        "INSERT INTO chatbot_zaloevent (event_key, event_name, user_id, timestamp_ms, payload, facts, received_at,"
        " status, message, queued_at, attempts) VALUES (%s, %s, %s, %s, %s, '{}', now(), 'queued', '', now(), 0)"
        " RETURNING id"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for i in range(warmup + rounds):
            payload = event("bench-baseline")
            message = json.dumps({"task": "chatbot.tasks.zalo_event_task", "args": [i], "id": uuid.uuid4().hex})
            started = time.perf_counter_ns()
            (pk,) = conn.execute(
                sql,
                [
                    "baseline:" + payload["message"]["msg_id"],
                    payload["event_name"],
                    payload["sender"]["id"],
                    int(payload["timestamp"]),
                    json.dumps(payload),
                ],
            ).fetchone()
            queue.lpush("bench-baseline", message.replace(str(i), str(pk), 1))
            elapsed = time.perf_counter_ns() - started
            if i >= warmup:
                samples.append(elapsed)
    queue.delete("bench-baseline")
    return samples


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    if not shutil.which("redis-server"):
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    settings_module = "gisportal.settings.production"
    main_url, bench_db, bench_url = scratch_database(args.db_name, default_suffix="zalo_bench")
    say(f"bench database {bench_db!r}")
    # Migrated with the test settings: the production ones need the secrets the server gets.
    migrate_with = "gisportal.settings.test"
    prepare_database(main_url, bench_db, marker=MARKER, recreate=args.recreate, settings_module=migrate_with)
    conninfo = conninfo_from_url(main_url, bench_db)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE chatbot_zaloevent CASCADE")

    redis_server = Server(
        ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        env=dict(os.environ),
        name="redis",
    )
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    cores = os.cpu_count() or 2
    workers, threads = cores + 1, 4
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": bench_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": redis_url,
        "CACHE_URL": f"redis://127.0.0.1:{redis_server.port}/1",
        "ZALO_APP_ID": APP_ID,
        "ZALO_OA_SECRET_KEY": SECRET,
    }
    argv, _ = production_profile(workers=workers, threads=threads)
    web = Server(argv, env=env, name="server")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(redis_url).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        web.wait_ready("/api/v1/service-points/?limit=1", headers={"X-Forwarded-Proto": "https", "Host": "127.0.0.1"})
        say(f"production start {workers} workers x {threads} threads; redis on {redis_server.port}")

        hook = Webhook(web.port)
        checks = {}
        body, signature = signed(event("bench-check"))
        checks["accepted"] = hook.post(body, signature)[0]
        checks["replayed"] = hook.post(body, signature)[0]
        checks["tampered"] = hook.post(body.replace(b"bench-check", b"bench-other"), signature)[0]
        stale = event("bench-check")
        stale["timestamp"] = str(int(time.time() * 1000) - 3_600_000)
        checks["late"] = hook.post(*signed(stale))[0]
        say(f"checks: {checks}")
        expected = {"accepted": 200, "replayed": 409, "tampered": 403, "late": 403}
        if checks != expected:
            raise SystemExit(f"the webhook answered {checks}, expected {expected}\n{web.log_tail()}")

        statuses: dict[int, int] = {}
        samples = []
        for i in range(args.warmup + args.events):
            status, elapsed = hook.post(*signed(event(f"bench-{i % 50}")))
            statuses[status] = statuses.get(status, 0) + 1
            if i >= args.warmup:
                samples.append(elapsed)
        say(f"webhook answers: {statuses}")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            stored = conn.execute("SELECT count(*) FROM chatbot_zaloevent WHERE user_id LIKE 'bench-%%'").fetchone()[0]
            published = conn.execute(
                "SELECT count(*) FROM chatbot_zaloevent WHERE user_id LIKE 'bench-%%' AND published_at IS NOT NULL"
            ).fetchone()[0]
        queued = redis.Redis.from_url(redis_url).llen("celery")

        floor = baseline(conninfo, redis_url, args.events, args.warmup)
    finally:
        web.stop()
        redis_server.stop()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("TRUNCATE chatbot_zaloevent CASCADE")

    http_stats, floor_stats = summarize(samples), summarize(floor)
    say("")
    say(f"{'mode':<10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, stats, raw in (("webhook", http_stats, samples), ("baseline", floor_stats, floor)):
        say(f"{name:<10}{stats['p50']:>10.2f}{stats['p95']:>10.2f}{stats['p99']:>10.2f}{max(raw) / 1e6:>10.2f}")
    ratio_p50 = http_stats["p50"] / floor_stats["p50"]
    ratio_p95 = http_stats["p95"] / floor_stats["p95"]
    say(f"ratio webhook / baseline: p50 {ratio_p50:.1f}, p95 {ratio_p95:.1f}")
    result = {
        "events": args.events,
        "webhook_p50_ms": round(http_stats["p50"], 3),
        "webhook_p95_ms": round(http_stats["p95"], 3),
        "webhook_p99_ms": round(http_stats["p99"], 3),
        "webhook_max_ms": round(max(samples) / 1e6, 3),
        "baseline_p50_ms": round(floor_stats["p50"], 3),
        "baseline_p95_ms": round(floor_stats["p95"], 3),
        "ratio_p50": round(ratio_p50, 2),
        "ratio_p95": round(ratio_p95, 2),
        "answers": statuses,
        "rows_stored": stored,
        "rows_published": published,
        "tasks_on_the_broker": queued,
        "checks": checks,
        "server": f"granian {workers}x{threads}",
        "under_1_s": max(samples) < 1e9,
        **baselines_left_out(LEFT_OUT),
    }
    print(json.dumps(result))
    all_stored = stored == args.events + args.warmup + 1 and statuses == {200: args.events + args.warmup}
    return 0 if all_stored else 1


if __name__ == "__main__":
    raise SystemExit(main())
