"""The client address (issue 5 §3): REMOTE_ADDR unless trusted proxies are configured, so
that no client picks its own address for the lockout or the audit trail."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from crm.core.net import address_network, client_address


def request_from(peer: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_proxy_config_x_forwarded_for_is_ignored(settings):
    settings.CRM_TRUSTED_PROXY_COUNT = 0
    assert client_address(request_from("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_behind_one_proxy_the_rightmost_entry_is_the_client(settings):
    settings.CRM_TRUSTED_PROXY_COUNT = 1
    # The client wrote "1.2.3.4"; nginx appended the address it saw.
    assert client_address(request_from("10.0.0.2", "1.2.3.4, 203.0.113.9")) == "203.0.113.9"


def test_behind_two_proxies_the_second_entry_from_the_right_is_the_client(settings):
    settings.CRM_TRUSTED_PROXY_COUNT = 2
    forwarded = "1.2.3.4, 203.0.113.9, 10.0.0.1"
    assert client_address(request_from("10.0.0.2", forwarded)) == "203.0.113.9"


@pytest.mark.parametrize("forwarded", [None, "", "not-an-address", " , "])
def test_a_missing_or_malformed_header_falls_back_to_the_peer(settings, forwarded):
    settings.CRM_TRUSTED_PROXY_COUNT = 1
    assert client_address(request_from("10.0.0.2", forwarded)) == "10.0.0.2"


def test_fewer_entries_than_proxies_means_the_request_bypassed_them(settings):
    settings.CRM_TRUSTED_PROXY_COUNT = 2
    assert client_address(request_from("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("sent", "seen"),
    [
        ("203.0.113.9:51234", "203.0.113.9"),
        ("[2001:DB8::0001]:443", "2001:db8::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
    ],
)
def test_addresses_are_canonical_and_without_ports(settings, sent, seen):
    settings.CRM_TRUSTED_PROXY_COUNT = 1
    assert client_address(request_from("10.0.0.2", sent)) == seen


def test_an_unknown_peer_is_none(settings):
    settings.CRM_TRUSTED_PROXY_COUNT = 0
    assert client_address(request_from("")) is None


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (None, ""),
    ],
)
def test_per_address_limits_count_an_ipv6_client_by_its_64(address, network):
    assert address_network(address) == network
