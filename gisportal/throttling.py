"""Rate limits. Kept apart from `gisportal.api`: DRF imports the throttle
classes named in settings while `rest_framework.views` loads, so this module
must not import `rest_framework.views` itself.

Every limit is a fixed-window counter in the shared cache: one Redis round
trip a request (`gisportal.cache.count_in_window`). DRF's SimpleRateThrottle
kept the list of every request time of the window under the client's key,
read and written whole on each request (two round trips, and about 2,400
pickled entries, 21 KB, at the benchmark's rates)."""

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from gisportal.cache import count_in_window_started
from gisportal.clientip import client_ip


class PublicLookupThrottle(BaseThrottle):
    """Per-client limit on public look-ups (`PUBLIC_LOOKUP_RATE`, e.g. 300/min),
    in fixed windows: at most that many requests from the first one of a
    window until the window ends; a refused request gets the seconds left.

    The rate is read per request so that settings overrides apply. The client
    is `gisportal.clientip.client_ip`: X-Forwarded-For counts only from
    `TRUSTED_PROXIES`, never DRF's NUM_PROXIES reading of it."""

    scope = "public_lookup"

    def __init__(self):
        self.retry_after_s: int | None = None

    def get_rate(self) -> str | None:
        return settings.PUBLIC_LOOKUP_RATE

    def allow_request(self, request, view) -> bool:
        return self.allow_request_started(request)()

    def allow_request_started(self, request) -> Callable[[], bool]:
        """`allow_request` in two halves (`window_hit_started`): the count is
        sent now, the function returned reads it (call it once)."""
        rate = self.get_rate()
        if not rate:
            return lambda: True
        counted = getattr(request, "window_counted", {})  # a DRF Request reads the Django request's attributes
        if self.scope in counted:  # this request was counted already (the lean path hands a refusal to its view)
            self.retry_after_s = counted[self.scope]
            return lambda: self.retry_after_s is None
        hit = window_hit_started(self.scope, client_ip(request) or "", rate)

        def allowed() -> bool:
            self.retry_after_s = hit()
            return self.retry_after_s is None

        return allowed

    def wait(self) -> int | None:
        return self.retry_after_s


def window_hit(scope: str, ident: str, rate: str) -> int | None:
    """Counts one event of `ident` in a fixed window of `rate` ("3/hour");
    the seconds until the window ends when the count is over the rate, None
    while it is within. The count lives in the shared cache (fails open)."""
    return window_hit_started(scope, ident, rate)()


def window_hit_started(scope: str, ident: str, rate: str) -> Callable[[], int | None]:
    """`window_hit`, whose answer the function returned gives (call it once);
    with Redis the count is under way meanwhile (`count_in_window_started`)."""
    allowed, window_s = SimpleRateThrottle.parse_rate(None, rate)
    counted = count_in_window_started(cache, f"window:{scope}:{ident}", window_s)

    def hit() -> int | None:
        count, left_s = counted()
        return left_s if count > allowed else None

    return hit


def throttle_started(throttle, request, view) -> Callable[[], bool]:
    """`throttle.allow_request` in two halves where it can (ours:
    `allow_request_started`): the count is sent now and the function returned
    reads its reply, so that a lean answer's database read runs while Redis
    answers. DRF's throttles answer at once."""
    started = getattr(throttle, "allow_request_started", None)
    if started is not None:
        return started(request)
    allowed = throttle.allow_request(request, view)
    return lambda: allowed


def counted_for_the_view(request, throttles) -> None:
    """Hands the counts `throttles` made of `request` to the view it is
    passed on to (the lean path leaves a refusal to the view's 429), whose
    `PublicLookupThrottle` answers from them instead of counting again."""
    request.window_counted = {t.scope: t.retry_after_s for t in throttles if isinstance(t, PublicLookupThrottle)}
