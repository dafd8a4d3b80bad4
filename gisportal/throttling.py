"""Rate limits. Kept apart from `gisportal.api`: DRF imports the throttle
classes named in settings while `rest_framework.views` loads, so this module
must not import `rest_framework.views` itself."""

from django.conf import settings
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
