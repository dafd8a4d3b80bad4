"""Rate limits. Kept apart from `gisportal.api`: DRF imports the throttle
classes named in settings while `rest_framework.views` loads, so this module
must not import `rest_framework.views` itself."""

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from gisportal.clientip import client_ip


class PublicLookupThrottle(SimpleRateThrottle):
    """Per-client limit on public look-ups (`PUBLIC_LOOKUP_RATE`, e.g. 120/min).

    The rate is read per request so that settings overrides apply. The client
    is `gisportal.clientip.client_ip`: X-Forwarded-For counts only from
    `TRUSTED_PROXIES`, never DRF's NUM_PROXIES reading of it."""

    scope = "public_lookup"

    def get_rate(self) -> str | None:
        return settings.PUBLIC_LOOKUP_RATE

    def get_ident(self, request) -> str:
        return client_ip(request) or ""

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def window_hit(scope: str, ident: str, rate: str) -> int | None:
    """Counts one event of `ident` in a fixed window of `rate` ("3/hour");
    the seconds until the window ends when the count is over the rate, None
    while it is within. The count lives in the shared cache (fails open)."""
    allowed, window_s = SimpleRateThrottle.parse_rate(None, rate)
    key = f"window:{scope}:{ident}"
    cache.add(key, 0, window_s)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window_s)
        count = 1
    return window_s if count > allowed else None
