"""Where webhooks may go (SSRF): only public addresses, unless WEBHOOK_ALLOW_PRIVATE.

The check runs when an endpoint is registered (its host resolved, every address checked) and on
every connection (`GuardedResolver`, the resolver of the delivering HTTP client): a name that
later resolves to a private address is refused at the moment it would be used. Redirects are not
followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ecandidat.contracts.errors import ErrorDetail, InvalidInput


class RefusedAddress(OSError):
    """The endpoint's host resolves to an address webhooks may not reach."""


def public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _refused(message: str) -> InvalidInput:
    return InvalidInput(message, details=[ErrorDetail(field="url", message=message, code="url")])


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse (InvalidInput, in French) a URL webhooks may not be sent to."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refused("L'adresse doit commencer par https:// (ou http://) et nommer un serveur.")
    if parts.username or parts.password:
        raise _refused("L'adresse ne doit pas contenir d'identifiants.")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise _refused("Ce nom de serveur ne se résout pas.") from None
    if not all(public(str(info[4][0])) for info in infos):
        raise _refused("Cette adresse est privée, locale ou réservée : les webhooks ne peuvent pas y être envoyés.")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing any non-public address it would connect to."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        allowed = [entry for entry in found if public(entry["host"])]
        if not allowed:
            raise RefusedAddress(f"{host} resolves to no public address")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()
