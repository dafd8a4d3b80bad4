"""Who is calling: the one place that turns a request into a client address.

Every rate limit (gisportal.throttling) and the sign-in lockout
(django-axes, `AXES_CLIENT_IP_CALLABLE`) count per client with this function.

`X-Forwarded-For` is written by whoever sends the request, so it is believed
only when the direct peer (`REMOTE_ADDR`) is one of `TRUSTED_PROXIES` (IPs or
CIDR networks, none by default). Then the header is read from the right: each
trusted proxy appends the address it received the request from, so the
right-most address that is not itself a trusted proxy is the client; what the
client wrote to the left of it is ignored.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` parsed; a bad entry stops the portal rather than
    silently trusting nothing (or everything)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network") from exc
    return tuple(networks)


@lru_cache(maxsize=4096)  # the same few peers ask again and again; parsing one is 3 µs
def _parse(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str | None:
    """The client's address for `request` (a Django or DRF request), or None
    when the server was given no peer address (in-process test requests
    built by hand)."""
    peer = _parse(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    networks = trusted_networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not _is_trusted(peer, networks):
        return str(peer)
    client = peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR") or ""
    for hop in reversed(forwarded.split(",")):
        address = _parse(hop)
        if address is None:
            # Not written by a proxy we trust (nginx writes plain addresses):
            # the last trusted hop is as far as we can see.
            break
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def trusted_proxies_check(app_configs, **kwargs) -> list:
    """`manage.py check` names a TRUSTED_PROXIES entry that is no address."""
    from django.core.checks import Error

    try:
        trusted_networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="gisportal.E001")]
    return []
