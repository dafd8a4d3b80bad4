"""Public look-ups are rate-limited per client: 429 beyond the rate. The
client is `gisportal.clientip.client_ip`: what a caller writes in
X-Forwarded-For is believed only through a trusted proxy."""

import random

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import override_settings

from gisportal.clientip import client_ip, trusted_proxies_check


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


# --- who the client is: X-Forwarded-For only from trusted proxies -------------------

NEAREST = "/api/v1/service-points/nearest/?lon=106.07&lat=21.18"


def _spoofed() -> str:
    return f"198.51.100.{random.randint(1, 254)}, 203.0.113.{random.randint(1, 254)}"


@override_settings(PUBLIC_LOOKUP_RATE="3/min", TRUSTED_PROXIES=[])
def test_random_forwarded_for_values_are_still_throttled(api):
    cache.clear()
    answers = [api.get(NEAREST, HTTP_X_FORWARDED_FOR=_spoofed()).status_code for _ in range(6)]
    assert answers == [200, 200, 200, 429, 429, 429]
    cache.clear()


@override_settings(PUBLIC_LOOKUP_RATE="3/min", TRUSTED_PROXIES=["10.20.0.0/16"])
def test_a_trusted_proxy_s_forwarded_address_is_the_client(api):
    cache.clear()
    proxy = {"REMOTE_ADDR": "10.20.0.5"}
    assert [api.get(NEAREST, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    # Another client behind the same proxy has its own count...
    assert api.get(NEAREST, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy).status_code == 200
    # ...and what a client writes left of the proxy's entry changes nothing.
    chain = [f"198.51.100.{n}, 203.0.113.7" for n in range(3)]
    assert [api.get(NEAREST, HTTP_X_FORWARDED_FOR=c, **proxy).status_code for c in chain] == [429, 429, 429]
    cache.clear()


@override_settings(PUBLIC_LOOKUP_RATE="3/min", TRUSTED_PROXIES=["10.20.0.0/16"])
def test_the_lookup_page_counts_the_same_client(client, db):
    cache.clear()
    headers = {"REMOTE_ADDR": "203.0.113.9"}
    answers = [
        client.get("/dossiers/lookup/", {"code": "X"}, HTTP_X_FORWARDED_FOR=_spoofed(), **headers).status_code
        for _ in range(4)
    ]
    assert answers[-1] == 429
    cache.clear()


def _request(remote: str | None, forwarded: str | None = None) -> HttpRequest:
    request = HttpRequest()
    if remote is not None:
        request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        # No trusted proxy: the header is the caller's word, ignored.
        ([], "203.0.113.5", "198.51.100.1", "203.0.113.5"),
        # A peer that is not a trusted proxy is the client, whatever it forwards.
        (["10.0.0.1"], "203.0.113.5", "198.51.100.1", "203.0.113.5"),
        # nginx on the same host appends the client's address.
        (["127.0.0.1", "::1"], "127.0.0.1", "198.51.100.1", "198.51.100.1"),
        # A spoofed chain: only the right-most untrusted address counts.
        (["127.0.0.1"], "127.0.0.1", "1.2.3.4, 5.6.7.8, 198.51.100.1", "198.51.100.1"),
        # Two proxies (load balancer, then nginx): both skipped.
        (["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", "198.51.100.1"),
        # A dual-stack socket's IPv4-mapped peer matches an IPv4 proxy entry.
        (["127.0.0.1"], "::ffff:127.0.0.1", "198.51.100.1", "198.51.100.1"),
        (["::1"], "::1", "2001:db8::7", "2001:db8::7"),
        # Garbage where a proxy would have written an address: stop at the proxy.
        (["127.0.0.1"], "127.0.0.1", "198.51.100.1, not-an-ip", "127.0.0.1"),
        # A trusted proxy that forwards nothing is itself the client.
        (["127.0.0.1"], "127.0.0.1", None, "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "", "127.0.0.1"),
        # No peer at all (a request built by hand).
        (["127.0.0.1"], None, "198.51.100.1", None),
    ],
)
def test_client_ip(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_ip(_request(remote, forwarded)) == expected


def test_a_bad_trusted_proxy_entry_fails_the_system_check(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "nginx.local"]
    errors = trusted_proxies_check(None)
    assert [e.id for e in errors] == ["gisportal.E001"] and "nginx.local" in errors[0].msg
    with pytest.raises(ImproperlyConfigured):
        client_ip(_request("127.0.0.1", "198.51.100.1"))
