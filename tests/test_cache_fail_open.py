"""Public reads keep working while Redis is down: the shared cache (rate
limits, tiles, counts) falls back to a per-process memory cache, with one
logged warning, and returns to Redis when it answers again."""

import logging
import os
import secrets
import time

import pytest
import redis
import requests
from django.core.cache.backends.locmem import LocMemCache

from gisportal.cache import FailOpenRedisCache, WrittenBehind, count_in_window, get_started
from gisportal.settings import env
from tests.live import process_env, runserver
from tests.processes import free_port

NEAREST = "/api/v1/service-points/nearest/?lon=106.07&lat=21.18"


def redis_cache(url: str) -> FailOpenRedisCache:
    """The cache exactly as the settings make it for `url`."""
    params = env.cache(url)
    assert params["BACKEND"] == "gisportal.cache.FailOpenRedisCache"
    return FailOpenRedisCache(params["LOCATION"], params)


def test_the_cache_uses_memory_while_redis_is_down_and_redis_again_once_it_is_back(private_redis, caplog):
    url = private_redis.url(1)
    server = redis.Redis.from_url(url)
    cache = redis_cache(url)
    cache.retry_after_s = 0.2
    cache.set("before", "in redis", 60)
    assert server.exists(cache.make_key("before")) == 1

    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger="gisportal.cache"):
        assert cache.get("before") is None  # that copy is in Redis, out of reach
        cache.set("during", 1, 60)
        assert cache.incr("during") == 2
        assert cache.get_many(["during", "other"]) == {"during": 2}
        assert cache.add("during", 5) is False
        # DRF's throttle: a list of request times under the client's key.
        cache.set("throttle_public_lookup_10.0.0.1", [time.time()], 60)
        assert len(cache.get("throttle_public_lookup_10.0.0.1")) == 1
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1, [r.getMessage() for r in caplog.records]
    assert unreachable[0].levelno == logging.WARNING

    private_redis.start()  # empty again: no persistence
    time.sleep(0.3)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gisportal.cache"):
        cache.set("after", "in redis again", 60)
    assert server.exists(cache.make_key("after")) == 1
    assert any("answers again" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_public_reads_answer_under_production_settings_with_redis_down(django_db_blocker, tmp_path):
    """The production cache on a Redis that does not listen: nearest, units and
    the dossier lookup answer as usual, and the rate limit still holds (counted
    per process meanwhile)."""
    nobody = free_port()
    environment = process_env(
        django_db_blocker,
        DJANGO_SETTINGS_MODULE="gisportal.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",  # plain HTTP to the test server, no TLS proxy
        REDIS_URL=f"redis://127.0.0.1:{nobody}/0",
        CACHE_URL=f"redis://127.0.0.1:{nobody}/1",
        PUBLIC_LOOKUP_RATE="30/min",
    )
    with runserver(environment, tmp_path, ready_path=NEAREST) as base_url:
        nearest = requests.get(f"{base_url}{NEAREST}&limit=3", timeout=10)
        assert nearest.status_code == 200, nearest.text[:2000]
        assert len(nearest.json()["features"]) == 3
        units = requests.get(f"{base_url}/api/v1/admin-units/?level=province&era=2025", timeout=10)
        assert units.status_code == 200, units.text[:2000]
        assert [f["properties"]["code"] for f in units.json()["features"]] == ["24"]
        unit = requests.get(f"{base_url}/api/v1/admin-units/24/?era=2025", timeout=10)
        assert unit.status_code == 200, unit.text[:2000]
        # The lookup's answer for a code that exists nowhere (the rate limit ran first).
        lookup = requests.get(f"{base_url}/api/v1/dossiers/lookup/?code=000.00.13.H04-200101-9999", timeout=10)
        assert lookup.status_code == 404, lookup.text[:2000]
        assert lookup.headers["Content-Type"].startswith("application/json")

        statuses = [requests.get(f"{base_url}{NEAREST}", timeout=10).status_code for _ in range(30)]
        assert 429 in statuses and set(statuses) == {200, 429}, statuses
    log = (tmp_path / "server.log").read_text()
    assert log.count(f"cache: Redis at redis://127.0.0.1:{nobody}/1 is unreachable") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def test_the_redis_client_is_built_once_per_pool_not_per_operation(private_redis):
    """Django builds a redis.Redis for every cache operation (0.5 ms each with
    redis-py 8); ours keeps one per connection pool, and it still works."""
    cache = redis_cache(private_redis.url(1))
    cache.set("k", [1.0, 2.0], 60)
    assert cache.get("k") == [1.0, 2.0]
    client = cache._cache.get_client(write=False)
    assert cache._cache.get_client(write=True) is client
    assert cache.add("other", 1) is True
    assert cache.incr("other") == 2
    assert cache._cache.get_client() is client


def test_a_fixed_window_count_is_one_redis_round_trip_and_counts_in_memory_while_redis_is_down(private_redis):
    """The rate limits' counter (gisportal.throttling.window_hit): a count and
    the seconds left in the window, readable as a plain cache value."""
    cache = redis_cache(private_redis.url(1))
    cache.retry_after_s = 0.2
    assert [cache.count_in_window("window:t:1", 60)[0] for _ in range(3)] == [1, 2, 3]
    count, left_s = cache.count_in_window("window:t:1", 60)
    assert count == 4 and 58 <= left_s <= 60
    assert cache.get("window:t:1") == 4
    assert redis.Redis.from_url(private_redis.url(1)).ttl(cache.make_key("window:t:1")) <= 60

    private_redis.stop()
    assert [cache.count_in_window("window:t:1", 60)[0] for _ in range(2)] == [1, 2]  # per process meanwhile


def test_a_fixed_window_in_any_other_cache_keeps_its_first_counts_lifetime():
    """count_in_window with a cache that has no count of its own (the memory
    cache of a Redis that is down, the test settings' cache): incr while the
    window lasts, add at its first count, and a window another request starts
    between the two is counted in, not started again."""
    cache = LocMemCache("window-test", {})
    assert [count_in_window(cache, "w", 60) for _ in range(3)] == [(1, 60), (2, 60), (3, 60)]
    assert 59 <= cache._expire_info[cache.make_key("w")] - time.time() <= 60  # from the first count
    cache.delete("w")  # the window ended
    assert count_in_window(cache, "w", 60)[0] == 1

    class Raced(LocMemCache):
        def incr(self, key, delta=1, version=None):
            if not self.has_key(key):  # another request's first count lands after this miss
                self.add(key, 5, 60)
                raise ValueError(key)
            return super().incr(key, delta, version)

    assert count_in_window(Raced("window-raced", {}), "w", 60) == (6, 60)


def test_the_rate_limit_counts_through_the_shared_cache_in_one_command(private_redis, settings):
    """window_hit goes through `django.core.cache.cache` (a proxy of the
    configured cache) and still takes the one-round-trip path: one EVALSHA
    a count (after the script's first load), no EXISTS/INCR/SET of the
    generic add-then-incr path."""
    from gisportal.throttling import window_hit

    settings.CACHES = {"default": env.cache(private_redis.url(1))}
    server = redis.Redis.from_url(private_redis.url(1))
    assert [window_hit("t", "198.51.100.1", "3/min") for _ in range(3)] == [None, None, None]
    server.config_resetstat()
    left_s = window_hit("t", "198.51.100.1", "3/min")
    assert left_s is not None and 1 <= left_s <= 60
    calls = {name: stats["calls"] for name, stats in server.info("commandstats").items()}
    assert calls.get("cmdstat_evalsha") == 1, calls
    assert not {"cmdstat_exists", "cmdstat_incrby", "cmdstat_set", "cmdstat_get"} & set(calls), calls


def _in_use(cache: FailOpenRedisCache) -> int:
    return len(cache._cache.get_client(write=True).connection_pool._in_use_connections)


def test_a_started_count_is_read_later_and_its_connection_goes_back_to_the_pool(private_redis):
    """count_in_window_started (the lean nearest path's rate limit): the
    command is on its way while the caller works; the reply, read later, is
    the same count a plain call gives, and the connection is back in the
    pool, also after Redis lost the script (a restart: NOSCRIPT)."""
    cache = redis_cache(private_redis.url(1))
    server = redis.Redis.from_url(private_redis.url(1))
    assert cache.count_in_window("window:s:1", 60)[0] == 1  # loads the script
    first = cache.count_in_window_started("window:s:1", 60)
    second = cache.count_in_window_started("window:s:1", 60)  # another connection of the pool
    assert _in_use(cache) == 2
    assert server.get(cache.make_key("window:s:1")) == b"3"  # both counted before any reply was read
    assert second()[0] == 3 and first()[0] == 2
    assert _in_use(cache) == 0
    assert cache.count_in_window("window:s:1", 60)[0] == 4

    server.script_flush()
    started = cache.count_in_window_started("window:s:1", 60)
    count, left_s = started()
    assert count == 5 and 1 <= left_s <= 60
    assert _in_use(cache) == 0
    assert cache.count_in_window_started("window:s:1", 60)()[0] == 6


def test_a_started_count_falls_back_to_memory_when_redis_goes_away(private_redis):
    cache = redis_cache(private_redis.url(1))
    cache.retry_after_s = 60
    assert cache.count_in_window_started("window:s:2", 60)()[0] == 1
    private_redis.stop()
    assert cache.count_in_window_started("window:s:2", 60)()[0] == 1  # per process from now on
    assert cache.is_skipping_redis
    assert cache.count_in_window_started("window:s:2", 60)()[0] == 2


def test_a_started_count_whose_redis_stops_before_the_reply_is_read_keeps_that_reply(private_redis):
    cache = redis_cache(private_redis.url(1))
    cache.retry_after_s = 60
    assert cache.count_in_window("window:s:3", 60)[0] == 1
    started = cache.count_in_window_started("window:s:3", 60)
    time.sleep(0.05)  # Redis has counted (2) and its reply waits in this end's socket
    private_redis.stop()
    assert started()[0] == 2
    assert _in_use(cache) == 0
    assert cache.count_in_window_started("window:s:3", 60)()[0] == 1  # then in memory
    assert cache.is_skipping_redis


def test_a_started_get_is_read_later_and_gives_what_get_gives(private_redis):
    """get_started (the lean tile asks for its tile while it reads the
    layer): the value as get() reads it (Django's serializer: bytes, a
    number), None when missing; the connection is back in the pool."""
    cache = redis_cache(private_redis.url(1))
    tile = secrets.token_bytes(70_000)
    cache.set("tile:a", tile, 60)
    cache.set("count:a", 12, 60)
    started = [cache.get_started(key) for key in ("tile:a", "count:a", "tile:missing")]
    assert _in_use(cache) == 3  # all three on their way before any reply is read
    assert [reply() for reply in started] == [tile, 12, None]
    assert _in_use(cache) == 0
    assert get_started(cache, "tile:a")() == tile == cache.get("tile:a")
    memory = LocMemCache("started-get", {})
    memory.set("tile:a", b"in memory")
    assert get_started(memory, "tile:a")() == b"in memory"  # any other cache: already done


def test_a_started_get_falls_back_to_memory_when_redis_goes_away(private_redis):
    cache = redis_cache(private_redis.url(1))
    cache.retry_after_s = 60
    cache.set("tile:b", b"in redis", 60)
    assert cache.get_started("tile:b")() == b"in redis"
    private_redis.stop()
    assert cache.get_started("tile:b")() is None  # the memory cache holds nothing yet
    assert cache.is_skipping_redis
    cache.set("tile:b", b"in memory", 60)
    assert cache.get_started("tile:b")() == b"in memory"


def test_values_written_behind_are_set_in_one_batch_after_the_delay(private_redis):
    """WrittenBehind (the tiles a process made, on their way to Redis): puts
    return at once; the thread sets the whole batch with one MSET, and
    flush() returns once what was queued is in Redis."""
    cache = redis_cache(private_redis.url(1))
    server = redis.Redis.from_url(private_redis.url(1))
    writes = WrittenBehind(cache=lambda: cache, delay_s=lambda: 0.3, max_bytes=10**6)
    values = {f"tile:{n}": secrets.token_bytes(1000 + n) for n in range(5)}
    started = time.monotonic()
    for key, value in values.items():
        writes.put(key, value, 60)
    assert time.monotonic() - started < 0.2  # no round trip in the caller
    assert [cache.get(key) for key in values] == [None] * 5  # not yet: the thread waits for more
    time.sleep(0.6)
    assert [cache.get(key) for key in values] == list(values.values())
    calls = {name: stat["calls"] for name, stat in server.info("commandstats").items()}
    assert calls.get("cmdstat_mset") == 1 and "cmdstat_set" not in calls, calls
    assert 55 <= server.ttl(cache.make_key("tile:0")) <= 60
    writes.put("tile:late", b"late", 60)
    writes.flush()  # without waiting out the delay
    assert cache.get("tile:late") == b"late"


def test_values_written_behind_beyond_the_limit_are_dropped_once_warned(private_redis, caplog):
    cache = redis_cache(private_redis.url(1))
    writes = WrittenBehind(cache=lambda: cache, delay_s=lambda: 0.2, max_bytes=2500)
    with caplog.at_level(logging.WARNING, logger="gisportal.cache"):
        for n in range(4):
            writes.put(f"big:{n}", bytes(1000), 60)
        writes.flush()
    assert [cache.get(f"big:{n}") is not None for n in range(4)] == [True, True, False, False]
    assert len([r for r in caplog.records if "not kept" in r.getMessage()]) == 1
    writes.put("big:after", bytes(1000), 60)  # room again once the batch is written
    writes.flush()
    assert cache.get("big:after") == bytes(1000)


def test_values_written_behind_go_to_memory_while_redis_is_down_and_at_once_without_a_delay(private_redis):
    cache = redis_cache(private_redis.url(1))
    cache.retry_after_s = 60
    delay = [0.05]
    writes = WrittenBehind(cache=lambda: cache, delay_s=lambda: delay[0], max_bytes=10**6)
    private_redis.stop()
    writes.put("tile:down", b"kept in memory", 60)
    writes.flush()
    assert cache.is_skipping_redis and cache.get("tile:down") == b"kept in memory"
    delay[0] = 0
    writes.put("tile:now", b"at once", 60)
    assert cache.get("tile:now") == b"at once"  # set in the caller's thread


def test_a_forked_worker_writes_behind_with_a_thread_of_its_own(private_redis):
    """As Granian forks its workers: the child has none of the parent's
    thread, and its first put starts one (with a lock of its own)."""
    cache = redis_cache(private_redis.url(1))
    writes = WrittenBehind(cache=lambda: cache, delay_s=lambda: 0.05, max_bytes=10**6)
    writes.put("tile:parent", b"from the parent", 60)  # the parent's thread runs
    pid = os.fork()
    if pid == 0:  # the child: report by exit status only
        try:
            writes.put("tile:child", b"from the child", 60)
            writes.flush()
            os._exit(0 if cache.get("tile:child") == b"from the child" else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    writes.flush()
    assert cache.get("tile:parent") == b"from the parent"
