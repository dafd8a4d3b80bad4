"""Public look-ups are rate-limited per client: 429 beyond the rate."""

from django.core.cache import cache
from django.test import override_settings


@override_settings(PUBLIC_LOOKUP_RATE="3/min")
def test_nearest_beyond_the_rate_is_429(api):
    cache.clear()
    url = "/api/v1/service-points/nearest/?lon=106.07&lat=21.18"
    assert [api.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get(url)
    assert refused.status_code == 429
    assert "Retry-After" in refused
    assert "Too many requests" in refused.json()["detail"] and "Quá nhiều" in refused.json()["detail"]
    # Another client is not affected.
    assert api.get(url, REMOTE_ADDR="10.9.8.7").status_code == 200
    cache.clear()
