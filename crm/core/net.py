"""Who is on the other end of a request: the client address (issue 5 §3).

Every mechanism that needs the client's address (the login lockout through django-axes, the
audit trail) asks `client_address`, so that they all agree and none of them can be fooled by
a header the client wrote itself.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _parse(value: str) -> str | None:
    """The canonical form of one address, or None if `value` is not an address.

    Canonical because IPv6 has many spellings of one address (`2001:DB8::0001` is
    `2001:db8::1`), and a client must not escape its count by respelling it; ports some
    proxies append (`1.2.3.4:5678`, `[2001:db8::1]:443`) are dropped.
    """
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address, or None when it cannot be known.

    Without configuration (CRM_TRUSTED_PROXY_COUNT = 0) this is the direct peer, REMOTE_ADDR,
    and X-Forwarded-For is ignored: any client can send that header. Behind n reverse proxies
    that each append the address they saw to X-Forwarded-For (nginx's
    `$proxy_add_x_forwarded_for`), the n-th entry from the right is the one the outermost
    trusted proxy saw; everything to its left was written by the client and is not trusted.
    A request that carries fewer entries than there are proxies did not come through them all,
    so its direct peer is used.
    """
    peer = _parse(request.META.get("REMOTE_ADDR", "") or "")
    proxies = settings.CRM_TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return peer
    forwarded = [
        item for item in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if item.strip()
    ]
    if len(forwarded) < proxies:
        return peer
    return _parse(forwarded[-proxies]) or peer


def address_network(address: str | None) -> str:
    """What a per-address limit counts as one client: an IPv4 address itself, an IPv6
    address's /64 (an ISP hands each line a whole /64, so its owner can rotate through more
    single addresses than any limit could count), or "" when the address is unknown."""
    if not address:
        return ""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
