"""The shared cache that keeps answering when Redis does not.

Rate limits, tile and count caches live in Redis so that every web process
counts and caches alike. When Redis cannot be reached, `FailOpenRedisCache`
logs one warning and serves from a per-process memory cache instead (limits
are then counted per process, caches are filled per process), and tries Redis
again every few seconds; public reads never fail because the cache is away.
Every settings profile that uses Redis gets this class from
`gisportal.settings.env.cache`.
"""

import logging
import time

import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

# Errors of the connection, not of a command: the server is away or too slow.
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

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

    @property
    def is_skipping_redis(self) -> bool:
        return time.monotonic() < _skip_until.get(self._location, 0.0)

    def _either(self, operation: str, *args, **kwargs):
        if self.is_skipping_redis:
            return getattr(self._fallback, operation)(*args, **kwargs)
        try:
            result = getattr(super(), operation)(*args, **kwargs)
        except UNREACHABLE as error:
            if _skip_until.get(self._location) is None:
                logger.warning(
                    "cache: Redis at %s is unreachable (%s); using a per-process memory cache, retrying every %.0f s",
                    _redacted(self._location),
                    error,
                    self.retry_after_s,
                )
            _skip_until[self._location] = time.monotonic() + self.retry_after_s
            return getattr(self._fallback, operation)(*args, **kwargs)
        if _skip_until.pop(self._location, None) is not None:
            logger.warning("cache: Redis at %s answers again", _redacted(self._location))
        return result

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


def _redacted(location: str) -> str:
    """The location without a password (redis://:secret@host -> redis://:***@host)."""
    scheme, separator, rest = location.partition("://")
    if "@" not in rest:
        return location
    credentials, _, host = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}{separator}{user}:***@{host}"
