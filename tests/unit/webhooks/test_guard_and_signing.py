"""The webhooks service's pure parts: where it may send (SSRF guard), how it signs, backs off and filters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook

from ecandidat.contracts.errors import InvalidInput
from ecandidat.runtime.sealing import Sealer, new_key
from services.webhooks.delivery import backoff, matches, new_secret, signature
from services.webhooks.guard import GuardedResolver, RefusedAddress, check_url, public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_not_public(address):
    assert not public(address)


def test_public_addresses_are(address="193.54.0.1"):
    assert public(address) and public("2001:4860:4860::8888")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "https://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "ftp://example.org/x",
        "https://user:pw@example.org/x",
        "https:///x",
    ],
)
async def test_check_url_refuses(url):
    with pytest.raises(InvalidInput) as refused:
        await check_url(url, allow_private=False)
    assert refused.value.details[0].field == "url"


async def test_check_url_allows_private_targets_when_the_setting_says_so():
    await check_url("http://127.0.0.1:9/x", allow_private=True)
    with pytest.raises(InvalidInput):
        await check_url("ftp://127.0.0.1/x", allow_private=True)


async def test_the_resolver_refuses_a_name_that_resolves_to_loopback_at_connection_time():
    resolver = GuardedResolver()
    try:
        with pytest.raises(RefusedAddress):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


def test_signatures_verify_with_the_library_and_rotation_signs_with_both_secrets():
    old, new = new_secret(), new_secret()
    sealer = Sealer(new_key(), "WEBHOOK_SEALING_KEY")
    now = datetime.now(timezone.utc)
    endpoint = {
        "secret": sealer.seal(new),
        "previous_secret": sealer.seal(old),
        "previous_valid_until": now + timedelta(hours=1),
    }
    assert new not in endpoint["secret"]  # kept sealed
    headers = {
        "webhook-id": "e1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature(endpoint, "e1", now, '{"a": 1}', now, sealer.unseal),
    }
    assert Webhook(new).verify('{"a": 1}', headers) == {"a": 1}
    assert Webhook(old).verify('{"a": 1}', headers) == {"a": 1}
    expired = {**endpoint, "previous_valid_until": now - timedelta(seconds=1)}
    headers["webhook-signature"] = signature(expired, "e1", now, '{"a": 1}', now, sealer.unseal)
    assert " " not in headers["webhook-signature"]


def test_backoff_doubles_up_to_its_maximum_and_covers_a_day_of_retries():
    delays = [backoff(n, 5, 3600) for n in range(1, 40)]
    assert delays[:4] == [5, 10, 20, 40] and max(delays) == 3600
    assert sum(delays) > 24 * 3600


def test_filters_need_the_event_to_name_the_centre_or_formation():
    endpoint = {"centre_code": "SFC", "formation_code": None}
    assert matches(endpoint, {"centre_code": "SFC", "formation_code": "DAEU-A"})
    assert not matches(endpoint, {"centre_code": "IUT"})
    assert not matches(endpoint, {"account_id": "…"})  # account events name no centre
    assert matches({"centre_code": None, "formation_code": None}, {})


def test_the_service_refuses_the_development_sealing_key_outside_development():
    from ecandidat.runtime.sealing import DEV_SEALING_KEY, require_production_key
    from services.webhooks.settings import WebhooksSettings

    sealer = Sealer(DEV_SEALING_KEY, "WEBHOOK_SEALING_KEY")
    with pytest.raises(RuntimeError, match="WEBHOOK_SEALING_KEY"):
        require_production_key(sealer, WebhooksSettings(ecandidat_env="production"))
