"""`python -m ecandidat.runtime.healthcheck <service>`: exit 0 when the service is ready.

Used by container healthchecks: it asks `rpc.<service>.health` over NATS_URL and prints the
answer. Ready means the service answers and its database does; a degraded dependency (SMTP,
storage) or a background loop waiting to be restarted is printed, not a failure.
"""

from __future__ import annotations

import asyncio
import json
import sys

import nats

from .settings import KitSettings


async def _check(service: str) -> int:
    settings = KitSettings()
    nc = await nats.connect(
        servers=settings.nats_servers, connect_timeout=2, max_reconnect_attempts=0, **settings.nats_options(service)
    )
    try:
        msg = await nc.request(f"rpc.{service}.health", b"{}", timeout=3)
        body = json.loads(msg.data).get("result", {})
        print(json.dumps(body))
        return 0 if body.get("ready") else 1
    finally:
        await nc.close()


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m ecandidat.runtime.healthcheck <service>", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_check(sys.argv[1]))
    except Exception as exc:  # any failure means unhealthy
        print(f"unhealthy: {exc!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
