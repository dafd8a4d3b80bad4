"""The shared cache that keeps answering when Redis does not.

Rate limits, tile and count caches live in Redis so that every web process
counts and caches alike. When Redis cannot be reached, `FailOpenRedisCache`
logs one warning and serves from a per-process memory cache instead (limits
are then counted per process, caches are filled per process), and tries Redis
again every few seconds; public reads never fail because the cache is away.
Every settings profile that uses Redis gets this class from
`gisportal.settings.env.cache`.
"""

import contextlib
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)
T = TypeVar("T")
V = TypeVar("V")

# Errors of the connection, not of a command: the server is away or too slow.
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

# A fixed-window counter, atomic in Redis: the count, and the seconds left in
# the window that the first count started. An integer is stored as itself
# (as Django's RedisSerializer stores one), so cache.get() reads it too.
_WINDOW_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

# Per process and per Redis location: until when Redis is skipped. Django
# makes one cache object per thread; they share this state and the fallback.
_skip_until: dict[str, float] = {}


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis client maker, keeping one `redis.Redis` per connection
    pool. Django builds a new `redis.Redis` for every cache operation, and
    redis-py 8 takes about 0.5 ms to build one (its response callbacks): a
    throttled public look-up (get, then set) paid 1 ms for that alone
    (bench/nearest.py --throughput). A `redis.Redis` may be shared: each
    command takes a connection from the pool."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache, or a local memory cache while Redis is unreachable."""

    retry_after_s = 5.0

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
        self._location = server if isinstance(server, str) else ",".join(server)
        # Same key prefix, version and timeout as the Redis cache; the store
        # itself is shared by every thread of the process (named by location).
        self._fallback = LocMemCache(f"fail-open:{self._location}", params)
        self._scripts: dict[int, redis.commands.core.Script] = {}  # per redis.Redis client

    @property
    def is_skipping_redis(self) -> bool:
        return time.monotonic() < _skip_until.get(self._location, 0.0)

    def _either(self, operation: str, *args, **kwargs):
        return self._redis_or_memory(
            lambda: getattr(super(FailOpenRedisCache, self), operation)(*args, **kwargs),
            lambda: getattr(self._fallback, operation)(*args, **kwargs),
        )

    def _redis_or_memory(self, on_redis: Callable[[], T], in_memory: Callable[[], T]) -> T:
        if self.is_skipping_redis:
            return in_memory()
        try:
            result = on_redis()
        except UNREACHABLE as error:
            if _skip_until.get(self._location) is None:
                logger.warning(
                    "cache: Redis at %s is unreachable (%s); using a per-process memory cache, retrying every %.0f s",
                    _redacted(self._location),
                    error,
                    self.retry_after_s,
                )
            _skip_until[self._location] = time.monotonic() + self.retry_after_s
            return in_memory()
        if _skip_until.pop(self._location, None) is not None:
            logger.warning("cache: Redis at %s answers again", _redacted(self._location))
        return result

    def count_in_window(self, key: str, window_s: int) -> tuple[int, int]:
        """`count_in_window` in one Redis round trip: `_WINDOW_SCRIPT` (one
        EVALSHA; a MULTI/EXEC pipeline of the same commands cost more
        client CPU, five replies to parse)."""
        return self._redis_or_memory(
            lambda: self._redis_count_in_window(key, window_s),
            lambda: count_in_window(self._fallback, key, window_s),
        )

    def _redis_count_in_window(self, key: str, window_s: int) -> tuple[int, int]:
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        count, left_s = self._window_script(client)(keys=[key], args=[window_s])
        return count, max(left_s, 1)

    def _window_script(self, client: redis.Redis) -> redis.commands.core.Script:
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(_WINDOW_SCRIPT)
        return script

    def count_in_window_started(self, key: str, window_s: int) -> Callable[[], tuple[int, int]]:
        """`count_in_window` in two halves: the command is sent now and the
        function returned reads its reply, so that the caller works meanwhile
        (the lean nearest look-up reads the database while Redis counts: the
        round trip's wait is hidden instead of added). Call the function
        exactly once. Whatever is not the plain case (Redis skipped or away,
        the script not loaded since Redis restarted) ends in
        `count_in_window`, which deals with it as before."""

        def sent(client: redis.Redis):
            return ("EVALSHA", self._window_script(client).sha, 1, self.make_and_validate_key(key), window_s)

        def counted(reply) -> tuple[int, int]:
            count, left_s = reply
            return count, max(left_s, 1)

        return self._started(sent, counted, lambda: self.count_in_window(key, window_s), write=True)

    def get_started(self, key: str) -> Callable[[], object]:
        """`get(key)` in two halves, as `count_in_window_started`: the GET
        is sent now and the function returned reads its reply (the value, or
        None). The lean tile asks for its tile while it reads the layer."""
        serializer = self._cache._serializer

        def sent(client: redis.Redis):
            return ("GET", self.make_and_validate_key(key))

        return self._started(sent, lambda raw: None if raw is None else serializer.loads(raw), lambda: self.get(key))

    def _started(
        self,
        command: Callable[[redis.Redis], tuple],
        result: Callable[[object], T],
        otherwise: Callable[[], T],
        *,
        write: bool = False,
    ) -> Callable[[], T]:
        """`command(client)` sent to Redis on a connection of the pool, and a
        function that reads its reply once and gives `result(reply)`. Redis
        skipped or unreachable, or a script it no longer holds: `otherwise()`,
        the whole operation done the plain way (which fails open). A
        connection whose reply may still be on its way is never reused."""
        if self.is_skipping_redis:
            return _already(otherwise())
        client = self._cache.get_client(write=write)
        pool = client.connection_pool
        try:
            connection = pool.get_connection()
        except UNREACHABLE:
            return _already(otherwise())
        try:
            connection.send_command(*command(client))
        except BaseException as error:
            connection.disconnect()
            pool.release(connection)
            if isinstance(error, UNREACHABLE):
                return _already(otherwise())
            raise

        def reply() -> T:
            try:
                answer = connection.read_response()
            except redis.exceptions.NoScriptError:
                pool.release(connection)
                return otherwise()  # count_in_window loads the script
            except BaseException as error:
                connection.disconnect()
                pool.release(connection)
                if isinstance(error, UNREACHABLE):
                    return otherwise()
                raise
            pool.release(connection)
            return result(answer)

        return reply

    def add(self, *args, **kwargs):
        return self._either("add", *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._either("get", *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._either("set", *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._either("touch", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._either("delete", *args, **kwargs)

    def get_many(self, *args, **kwargs):
        return self._either("get_many", *args, **kwargs)

    def has_key(self, *args, **kwargs):
        return self._either("has_key", *args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._either("incr", *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._either("set_many", *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._either("delete_many", *args, **kwargs)

    def clear(self):
        return self._either("clear")


def _already(result: T) -> Callable[[], T]:
    return lambda: result


def count_in_window_started(cache: BaseCache, key: str, window_s: int) -> Callable[[], tuple[int, int]]:
    """`count_in_window`, whose result the function returned gives (call it
    once): with Redis the count is under way meanwhile
    (`FailOpenRedisCache.count_in_window_started`); with any other cache it
    is already done."""
    started = getattr(cache, "count_in_window_started", None)  # `cache` may be a proxy
    if started is not None:
        return started(key, window_s)
    return _already(count_in_window(cache, key, window_s))


def get_started(cache: BaseCache, key: str) -> Callable[[], object]:
    """`cache.get(key)`, whose result (or None) the function returned gives
    (call it once): with Redis the GET is under way meanwhile
    (`FailOpenRedisCache.get_started`); with any other cache it is done."""
    started = getattr(cache, "get_started", None)  # `cache` may be a proxy
    if started is not None:
        return started(key)
    return _already(cache.get(key))


def count_in_window(cache: BaseCache, key: str, window_s: int) -> tuple[int, int]:
    """Adds one to the counter `key` of `cache`, which starts at 0 and lasts
    `window_s` seconds from its first count (a fixed window); the count, and
    the seconds left until the window ends. The Redis cache does it in one
    round trip (`FailOpenRedisCache.count_in_window`); any other cache with
    add and incr."""
    counter = getattr(cache, "count_in_window", None)  # `cache` may be django.core.cache.cache, a proxy
    if counter is not None:
        return counter(key, window_s)
    # incr first: one call while a window lasts, two at its first count.
    with contextlib.suppress(ValueError):  # no window yet
        return cache.incr(key), window_s
    if cache.add(key, 1, window_s):
        return 1, window_s
    try:  # another request started the window meanwhile
        return cache.incr(key), window_s
    except ValueError:  # and it ended already
        cache.add(key, 1, window_s)
        return 1, window_s


def _redacted(location: str) -> str:
    """The location without a password (redis://:secret@host -> redis://:***@host)."""
    scheme, separator, rest = location.partition("://")
    if "@" not in rest:
        return location
    credentials, _, host = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}{separator}{user}:***@{host}"


class RecentValues(Generic[V]):
    """The values this process gave last, up to a byte budget, in front of
    the shared cache: a dict look-up costs nothing next to a round trip to
    Redis. Safe to keep without invalidation when the key holds the version
    of the data, read afresh on every request: an older version's value is
    never looked up again and ages out. `size(value)` is its bytes; a value
    over `budget // largest_share` is not kept (a few big ones must not push
    out every other one)."""

    def __init__(self, *, size: Callable[[V], int], largest_share: int) -> None:
        self._size, self._largest_share = size, largest_share
        self._values: OrderedDict[str, V] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: str, value: V, *, budget: int) -> None:
        size = self._size(value)
        if size > budget // self._largest_share:
            return
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._bytes -= self._size(old)
            self._values[key] = value
            self._bytes += size
            while self._bytes > budget and self._values:
                _, dropped = self._values.popitem(last=False)
                self._bytes -= self._size(dropped)

    def drop(self, match: Callable[[str], bool]) -> int:
        with self._lock:
            keys = [key for key in self._values if match(key)]
            for key in keys:
                self._bytes -= self._size(self._values.pop(key))
            return len(keys)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._bytes = 0


class WrittenBehind:
    """Values set in a cache by a thread of this process, in batches, not by
    the request that made them. `put` queues a value and returns; the thread
    waits `delay_s` after the first value of a batch, then sets the whole
    batch with one `set_many` (Redis: MSET and the EXPIREs in one round trip).

    A tile's SET after its bytes were sent still cost the next request on this
    machine: 0.43 ms of an uncached z14 tile over HTTP (its 70 KB through
    redis-py and Redis, 0.24 ms of CPU, on two cores busy with the next
    tile); in batches of a few, 0.09-0.18 ms less (bench/README.md).

    It is a cache: a value queued while more than `max_bytes` wait is not
    kept (logged once), one whose batch fails is logged and lost, and others
    see a value up to `delay_s` later. `delay_s` 0: `put` sets it at once, in
    the caller's thread. The thread is started by the first `put` of each
    process (a forked worker makes its own, with a lock of its own).
    `flush()` returns once what was queued before it is set."""

    def __init__(self, *, cache: Callable[[], BaseCache], delay_s: Callable[[], float], max_bytes: int):
        self._cache, self._delay_s, self._max_bytes = cache, delay_s, max_bytes
        self._lock = threading.Condition()
        self._pending: dict[str, tuple[bytes, int]] = {}
        self._bytes = 0
        self._pid: int | None = None
        self._put_count = self._done_count = 0
        self._dropping = self._hurry = False
        # Weakly: the interpreter keeps fork hooks for good, and an instance
        # (a test's) would never be freed.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (writes := ref()) is not None and writes._forked())

    def _forked(self) -> None:
        """In a forked child: no thread yet, and a lock the parent's thread may have held."""
        self._lock = threading.Condition()
        self._pid = None

    def put(self, key: str, value: bytes, timeout_s: int) -> None:
        delay_s = self._delay_s()
        if delay_s <= 0:
            self._cache().set(key, value, timeout_s)
            return
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            if self._bytes + len(value) > self._max_bytes:
                if not self._dropping:
                    logger.warning("cache: %d bytes wait to be written; later values are not kept", self._bytes)
                self._dropping = True
                return
            old = self._pending.pop(key, None)
            self._bytes += len(value) - (len(old[0]) if old else 0)
            self._pending[key] = (value, timeout_s)
            self._put_count += 1
            self._lock.notify_all()

    def flush(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            wanted = self._put_count
            self._hurry = True
            self._lock.notify_all()
            self._lock.wait_for(lambda: self._done_count >= wanted or self._pid != os.getpid(), timeout_s)

    def _start(self) -> None:
        self._pid = os.getpid()
        self._pending.clear()
        self._bytes = self._put_count = self._done_count = 0
        threading.Thread(target=self._run, name="cache-written-behind", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending)
                self._lock.wait_for(lambda: self._hurry, self._delay_s())
                batch, self._pending, self._bytes, done = self._pending, {}, 0, self._put_count
                self._dropping = self._hurry = False
            by_timeout: dict[int, dict[str, bytes]] = {}
            for key, (value, timeout_s) in batch.items():
                by_timeout.setdefault(timeout_s, {})[key] = value
            try:
                for timeout_s, values in by_timeout.items():
                    self._cache().set_many(values, timeout_s)
            except Exception:  # a cache: what was not set is made again when asked for
                logger.exception("cache: %d values not written", len(batch))
            with self._lock:
                self._done_count = done
                self._lock.notify_all()
