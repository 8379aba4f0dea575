"""Links that carry a one-time token, kept sealed in the delivery log and opened only to send.

A composer puts `sealed_link(...)` in the mail's context: the rendered mail (what the delivery log
stores in `body_text`/`body_html`) holds the token still sealed, in a `{sealed:…}` marker, so that
reading the database gives no working activation, reset or set-up link. The sender opens the
markers (`open_links`) when it builds the message, with LINK_SEALING_KEY, which the database does
not hold.
"""

from __future__ import annotations

import functools
import re

from ecandidat.runtime.consumer import PermanentFailure
from ecandidat.runtime.sealing import SealError, Sealer

from .catalogue import MailContext

_MARKER = re.compile(r"\{sealed:([A-Za-z0-9_=-]+)\}")


def sealed_link(ctx: MailContext, page: str, sealed: str | None) -> str:
    """`<base><page>?jeton={sealed:…}`, after checking that the mailer can open the token."""
    if sealed is None or ctx.unseal is None:
        raise PermanentFailure("the event carries no sealed token, or the mailer has no LINK_SEALING_KEY")
    try:
        ctx.unseal(sealed)
    except SealError:
        raise PermanentFailure("cannot unseal the link token: LINK_SEALING_KEY differs from the producer's") from None
    return f"{ctx.public_base_url}{page}?jeton={{sealed:{sealed}}}"


@functools.lru_cache(maxsize=4)
def _sealer(keys: str) -> Sealer:
    return Sealer(keys)


def open_links(text: str, keys: str) -> str:
    """The text with every sealed token replaced by the token itself (LINK_SEALING_KEY `keys`)."""
    if "{sealed:" not in text:
        return text
    sealer = _sealer(keys)
    return _MARKER.sub(lambda m: sealer.unseal(m.group(1)), text)
