"""`client_address`: X-Forwarded-For is believed only from the proxies in TRUSTED_PROXIES."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import ValidationError

from gateway.auth import client_address
from gateway.keys import SETTINGS
from gateway.settings import GatewaySettings


def address(peer: str, forwarded: str | None, trusted: str = "") -> str:
    app = web.Application()
    app[SETTINGS] = GatewaySettings(trusted_proxies=trusted)
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("GET", "/", headers=headers, app=app)
    request._transport_peername = (peer, 40000)  # what aiohttp reads for request.remote
    return request.remote and client_address(request)


def test_without_trusted_proxies_the_header_is_ignored():
    assert address("203.0.113.7", "198.51.100.1") == "203.0.113.7"


def test_a_trusted_balancer_passes_the_client_on():
    assert address("10.0.0.5", "198.51.100.1", trusted="10.0.0.0/8") == "198.51.100.1"


def test_a_client_cannot_choose_its_address_through_the_header():
    # Not from a proxy: the header is the client's own words.
    assert address("198.51.100.9", "1.2.3.4", trusted="10.0.0.0/8") == "198.51.100.9"
    # Through the proxy, a forged left part stops at the first address no proxy vouches for.
    assert address("10.0.0.5", "1.2.3.4, 198.51.100.9", trusted="10.0.0.0/8") == "198.51.100.9"


def test_a_chain_of_trusted_proxies_is_walked_back():
    assert address("10.0.0.5", "198.51.100.1, 10.0.0.9", trusted="10.0.0.0/8") == "198.51.100.1"
    assert address("10.0.0.5", "198.51.100.1,172.16.0.2", trusted="10.0.0.0/8,172.16.0.0/12") == "198.51.100.1"
    assert address("10.0.0.5", "10.0.0.7", trusted="10.0.0.0/8") == "10.0.0.7"  # every hop trusted: the leftmost


def test_garbage_in_the_header_is_not_an_address():
    assert address("10.0.0.5", "not-an-ip", trusted="10.0.0.0/8") == "10.0.0.5"
    assert address("10.0.0.5", "1.2.3.4, junk", trusted="10.0.0.0/8") == "10.0.0.5"
    assert address("10.0.0.5", "", trusted="10.0.0.0/8") == "10.0.0.5"
    assert address("::ffff:10.0.0.5", "2001:db8::1", trusted="10.0.0.0/8") == "2001:db8::1"


def test_a_bad_setting_is_refused_at_start():
    with pytest.raises(ValidationError):
        GatewaySettings(trusted_proxies="10.0.0.0/8,lb.example.org")


def test_gateway_settings_read_the_kit_settings_from_the_environment_too(monkeypatch):
    """The gateway's own list settings must not hide the kit's parsing (CONSUMER_BACKOFF crashed the
    gateway when set, as the test environment and compose set it)."""
    monkeypatch.setenv("CONSUMER_BACKOFF", "0.2,0.4,0.8")
    monkeypatch.setenv("GATEWAY_SERVICES", "accounts, mailer")
    settings = GatewaySettings()
    assert settings.consumer_backoff == (0.2, 0.4, 0.8) and settings.gateway_services == ("accounts", "mailer")
