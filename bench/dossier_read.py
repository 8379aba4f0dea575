"""Reading a whole dossier through the gateway (`GET /api/v1/dossier`), beside a bare aiohttp endpoint.

What is measured and how: bench/README.md, "dossier_read". Two gateways: the platform's, which
answers an unchanged dossier from its copy of the candidate's view (dropped by the dossiers'
signal), and a second one keeping no view (GATEWAY_VIEW_CACHE_SIZE=0): every read an rpc to the
dossiers service, as a read right after a change costs. Authentication (`--auth`): `session` (the
default) is the real one — the accounts service runs too, the candidates are created, activated
and logged in through the gateway, each request carries its session token; `bench` is a bench
authenticator (token `bench-<account uuid>` → that candidate, no session lookup).

Exit status 1 when the run is broken (an answer other than 200, a process that died).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import alternate, Arguments, bare_server, BrokenRun, conditions, LOCALHOST, platform  # noqa: E402
from bench._common import levels, print_conditions, print_each_run, print_rounds_summary, raise_failed  # noqa: E402
from bench._common import run_main  # noqa: E402
from bench._common import free_port, Process, save_results, wait_healthy, wait_listening  # noqa: E402
from bench.logins import accounts  # noqa: E402

BARE = "bare aiohttp"
KEPT = "gateway GET /dossier"
BY_RPC = "gateway GET /dossier, read by rpc"


def serve_gateway() -> None:
    """The gateway (GATEWAY_PORT from the environment) with the bench authenticator."""
    from aiohttp import web

    from ecandidat.contracts.auth import Principal
    from ecandidat.contracts.errors import Unauthenticated
    from ecandidat.runtime import aio
    from ecandidat.runtime import logging as kit_logging
    from gateway.api import AUTHENTICATOR
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    settings = GatewaySettings()
    kit_logging.configure("gateway", settings.log_level, settings.log_format)
    app = create_app(settings)

    async def authenticate(request: web.Request, op: Any) -> Principal:
        token = request.headers.get("Authorization", "").removeprefix("Bearer bench-")
        try:
            account_id = uuid.UUID(token)
        except ValueError:
            raise Unauthenticated("Vous devez être connecté pour accéder à cette ressource.") from None
        return Principal(realm="candidate", account_id=account_id, email="bench@example.org")

    app[AUTHENTICATOR] = authenticate
    loop = aio.new_event_loop(settings.event_loop)
    web.run_app(app, host=LOCALHOST, port=settings.gateway_port, access_log=None, print=None, loop=loop)


async def seed(nats_url: str, accounts: list[uuid.UUID]) -> None:
    """Fill every section of the dossiers of `accounts` through the service's rpc."""
    import nats

    from ecandidat.contracts.auth import Principal
    from ecandidat.contracts.dossiers import SECTION_MODELS, WRITABLE_SECTIONS, SaveSection, SectionSaved
    from ecandidat.runtime.rpc import RpcClient
    from tests.unit.dossiers import samples

    named = {"informations_personnelles": "infos_perso", "experiences_professionnelles": "experiences"}
    contents = {section: getattr(samples, named.get(section, section))() for section in WRITABLE_SECTIONS}
    nc = await nats.connect(nats_url)
    client = RpcClient(nc, timeout=10)
    for account_id in accounts:
        me = Principal(realm="candidate", account_id=account_id, email="bench@example.org")
        for section in WRITABLE_SECTIONS:
            content = SECTION_MODELS[section].model_validate(contents[section])
            await client.call(
                SaveSection(principal=me, account_id=account_id, expected_version=0, **{section: content}), SectionSaved
            )
    await nc.close()


async def main(args: argparse.Namespace) -> None:
    import aiohttp

    info = conditions(
        mode="quick" if args.quick else "full",
        concurrency=",".join(map(str, args.concurrency)),
        authentication=args.auth,
        **{"seconds per run": args.duration, "rounds": args.rounds, "dossiers": args.candidates},
    )
    if args.auth == "session":
        services: tuple[str, ...] = ("dossiers", "accounts")
        gateway: tuple[str, ...] = ("-m", "gateway")
    else:
        services, gateway = ("dossiers",), (str(Path(__file__).resolve()), "gateway")
    env = {"ACCOUNTS_THROTTLE_FREE_CLIENT": "1000000"}  # every login comes from this machine
    async with platform(
        "dossier_read", services, info, s3=False, smtp=False, log_level="WARNING", gateway=gateway, env=env
    ) as stack:
        if args.auth == "session":
            made = await accounts(stack, stack.db.url, args.candidates)
            ids, tokens = [uuid.UUID(a["account_id"]) for a in made], [a["token"] for a in made]
        else:
            ids = [uuid.uuid4() for _ in range(args.candidates)]
            tokens = [f"bench-{a}" for a in ids]
        await seed(stack.nats_url, ids)
        headers = [{"Authorization": f"Bearer {t}"} for t in tokens]
        gateway_url = f"{stack.base}/api/v1/dossier"
        async with aiohttp.ClientSession() as http, http.get(gateway_url, headers=headers[0]) as resp:
            body = await resp.read()
        if resp.status != 200 or not json.loads(body)["completude"]["complet"]:
            raise BrokenRun(f"GET /dossier: {resp.status} {body[:300]!r}")
        info["dossier body"] = f"{len(body)} bytes"
        bare, bare_port = bare_server(stack.logs)
        # The same gateway keeping no view (GATEWAY_VIEW_CACHE_SIZE=0): every read an rpc to the
        # dossiers service, the session still kept, as every read was before the gateway kept them.
        by_rpc_port = free_port()
        by_rpc_env = dict(stack.env, GATEWAY_PORT=str(by_rpc_port), GATEWAY_VIEW_CACHE_SIZE="0")
        by_rpc = Process("gateway-by-rpc", [sys.executable, *gateway], stack.logs / "gateway-by-rpc.log", by_rpc_env)
        with bare, by_rpc:
            wait_listening(bare_port, bare)
            await wait_healthy(f"http://{LOCALHOST}:{by_rpc_port}/health", [by_rpc])
            targets = {
                BARE: f"http://{LOCALHOST}:{bare_port}/body/{len(body)}",
                KEPT: gateway_url,
                BY_RPC: f"http://{LOCALHOST}:{by_rpc_port}/api/v1/dossier",
            }
            info["targets"] = (
                f"{KEPT}: the candidate's view kept by the gateway (dropped by the dossiers' signal); "
                f"{BY_RPC}: a second gateway with GATEWAY_VIEW_CACHE_SIZE=0"
            )
            kept_by = {"gateway": stack.pid("gateway"), "nats-server": stack.nats_pid}
            kept_by |= {s: stack.pid(s) for s in services}
            by_rpc_by = dict(kept_by, gateway=by_rpc.pid)
            pids = {BARE: {"server": bare.pid}, KEPT: kept_by, BY_RPC: by_rpc_by}
            print_conditions(info)
            processes = [*stack.processes.values(), bare, by_rpc]
            rows = await alternate(targets, args, processes, headers=headers, pids=pids)
    print()
    print_each_run(rows)
    print_rounds_summary(rows, BARE)
    save_results("dossier_read", {"conditions": info, "runs": rows})
    raise_failed(rows)


def parse_args() -> argparse.Namespace:
    parser = Arguments(__doc__, "2 rounds of 2 s, 10 dossiers", candidates=(50, 10), duration=(6.0, 2.0), rounds=(3, 2))
    parser.add_argument("--concurrency", default=[1, 16], type=levels, help="client concurrency levels (default 1,16)")
    auth = "session (default): real sessions (accounts service, login); bench: a bench authenticator, no lookup"
    parser.add_argument("--auth", choices=("session", "bench"), default="session", help=auth)
    parser.add_argument("--candidates", type=int, help="dossiers filled and read round robin (default 50, quick 10)")
    parser.add_argument("--duration", type=float, help="seconds per run (default 6, quick 2)")
    parser.add_argument("--rounds", type=int, help="rounds per concurrency (default 3, quick 2)")
    return parser.parse_args()


if __name__ == "__main__":
    if sys.argv[1:] == ["gateway"]:  # the gateway process of `--auth bench`
        serve_gateway()
    else:
        arguments = parse_args()
        run_main(lambda: main(arguments))
