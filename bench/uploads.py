"""50 concurrent 5 MB uploads through the gateway, beside direct uploads to the same S3 server.

What is measured and how: bench/README.md, "uploads". Each round: N concurrent PUTs of the file
straight to S3 (presigned URLs), then N concurrent `PUT /api/v1/candidatures/{id}/pieces/{slot}/
fichier` through the gateway → documents → S3, with the peak RSS of gateway and documents. The
accounts service is stood in for by `resolve_session` only (a process of its own).

Exit status 1 when the run is broken (an upload not answered 200/201, a process that died).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import nats  # noqa: E402
from minio import Minio  # noqa: E402

from bench._common import Arguments  # noqa: E402
from bench._common import BrokenRun, conditions, PeakRss, platform, print_conditions, print_table, Process  # noqa: E402
from bench._common import proc_cpu_seconds, rss_mb, run_main, save_results, Stack  # noqa: E402
from ecandidat.contracts.accounts import ResolveSession  # noqa: E402
from ecandidat.contracts.auth import Principal  # noqa: E402
from ecandidat.contracts.candidatures import CandidatureCreated, RequiredPiece  # noqa: E402
from ecandidat.contracts.documents import CandidaturePieces, ListPieces  # noqa: E402
from ecandidat.contracts.envelope import envelope  # noqa: E402
from ecandidat.contracts.errors import Unauthenticated  # noqa: E402
from ecandidat.contracts.subjects import event_subject  # noqa: E402
from ecandidat.runtime.rpc import RpcClient, RpcServer  # noqa: E402
from tests.unit.documents.corpus import sized_pdf  # noqa: E402

MB = 1024 * 1024


async def timed(coros: Any) -> float:
    started = time.perf_counter()
    results = await asyncio.gather(*coros)
    elapsed = time.perf_counter() - started
    bad = [r for r in results if r not in (200, 201)]
    if bad:
        raise BrokenRun(f"{len(bad)} uploads failed, statuses {sorted(set(bad))}")
    return elapsed


async def main(args: argparse.Namespace) -> None:
    info = conditions(uploads=args.uploads, rounds=args.rounds, size=f"{args.size / MB:.1f} MB")
    env = {"RPC_TIMEOUT": "15"}
    async with platform("uploads", ("documents",), info, smtp=False, log_level="WARNING", env=env) as stack:
        argv = [sys.executable, __file__, "--accounts-stub", stack.nats_url]
        with Process("accounts stub", argv, stack.logs / "accounts.log", stack.env) as stub:
            print_conditions(info)
            await run(args, stack, info)
            stub.check()


async def accounts_stub(nats_url: str) -> None:
    """Stand-in for the accounts service's `resolve_session`, run as a process of its own so that
    the load client (busy pushing bytes) does not delay the gateway's authentication: the token
    `<account uuid>` is a candidate with that account id."""
    nc = await nats.connect(nats_url)
    accounts = RpcServer(nc, "accounts")

    @accounts.route(ResolveSession)
    async def resolve(req: ResolveSession, ctx: Any) -> Principal:
        try:
            return _candidate(uuid.UUID(req.token))
        except ValueError:
            raise Unauthenticated("Session inconnue.") from None

    await accounts.start()
    await asyncio.Event().wait()


def _candidate(account_id: uuid.UUID) -> Principal:
    return Principal(realm="candidate", account_id=account_id, email="b@example.org", numero_dossier="26BENCH0")


def cpu_now(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each process of `pids`, and of this one (the load client)."""
    return {**{name: proc_cpu_seconds(pid) for name, pid in pids.items()}, "bench client": time.process_time()}


def add_cpu(total: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    for name, seconds in after.items():
        total[name] = total.get(name, 0.0) + seconds - before[name]


async def run(args: argparse.Namespace, stack: Stack, info: dict[str, Any]) -> None:
    nc = await nats.connect(stack.nats_url)
    pids = {name: stack.pid(name) for name in ("gateway", "documents")}
    cpu_pids = {**pids, "S3 server": stack.s3_pid, "nats-server": stack.nats_pid}
    rpc = RpcClient(nc, timeout=10)
    for _ in range(300):  # the stand-in answers once started
        try:
            await rpc.call(ResolveSession(token=str(uuid.uuid4())), Principal, timeout=1)
            break
        except Exception:
            await asyncio.sleep(0.2)
    principals: dict[str, Principal] = {}
    total = args.uploads * (args.rounds + 1)
    slots: list[tuple[str, str, str]] = []  # token, candidature id, slot id
    js = nc.jetstream()
    for _ in range(total):
        me = _candidate(uuid.uuid4())
        token = str(me.account_id)
        principals[token] = me
        cid = uuid.uuid4()
        event = CandidatureCreated(
            candidature_id=cid,
            account_id=me.account_id,
            numero_dossier="26BENCH0",
            formation_code="F",
            formation_libelle="Bench",
            centre_code="C",
            centre_libelle="C",
            type_traitement="acces_controle",
            date_limite_retour=date.today() + timedelta(days=30),
            campagne_libelle="Bench",
            pieces=[RequiredPiece(piece_id=uuid.uuid4(), code="CV", libelle="CV", ordre=1)],
        )
        body = envelope(event, event_id=uuid.uuid4(), time=datetime.now(timezone.utc))
        await js.publish(event_subject(event), body.model_dump_json().encode())
        slots.append((token, str(cid), ""))
    for i, (token, cid, _) in enumerate(slots):
        while True:
            try:
                listed = await rpc.call(
                    ListPieces(principal=principals[token], candidature_id=uuid.UUID(cid)), CandidaturePieces
                )
                slots[i] = (token, cid, str(listed.items[0].slot_id))
                break
            except Exception:
                await asyncio.sleep(0.2)

    data = sized_pdf(args.size)
    e = stack.env
    client = Minio(
        e["S3_ENDPOINT"].split("//", 1)[1],
        access_key=e["S3_ACCESS_KEY"],
        secret_key=e["S3_SECRET_KEY"],
        secure=False,
        region="us-east-1",
    )
    if not client.bucket_exists("bench-direct"):
        client.make_bucket("bench-direct")
    gateway_url = f"{stack.base}/api/v1/candidatures"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def through_gateway(token: str, cid: str, slot: str) -> int:
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/octet-stream",
                "X-File-Name": "bench.pdf",
            }
            async with http.put(f"{gateway_url}/{cid}/pieces/{slot}/fichier", data=data, headers=headers) as resp:
                await resp.read()
                return resp.status

        async def direct(url: str) -> int:
            async with http.put(url, data=data, headers={"Content-Type": "application/pdf"}) as resp:
                await resp.read()
                return resp.status

        await timed([through_gateway(*slots.pop())])  # warm-up: connections, imports, first S3 write
        for _ in range(args.uploads - 1):
            slots.pop()
        await asyncio.sleep(1.0)
        idle = {name: rss_mb(pid) for name, pid in pids.items()}
        direct_s, gateway_s = [], []
        peaks = {name: 0.0 for name in pids}
        cpu: dict[str, dict[str, float]] = {"direct": {}, "gateway": {}}
        for _ in range(args.rounds):
            urls = [client.presigned_put_object("bench-direct", f"{uuid.uuid4()}") for _ in range(args.uploads)]
            before = cpu_now(cpu_pids)
            direct_s.append(await timed(direct(u) for u in urls))
            add_cpu(cpu["direct"], before, cpu_now(cpu_pids))
            batch = [slots.pop() for _ in range(args.uploads)]
            async with PeakRss(pids) as sampler:
                before = cpu_now(cpu_pids)
                gateway_s.append(await timed(through_gateway(*s) for s in batch))
                add_cpu(cpu["gateway"], before, cpu_now(cpu_pids))
            peaks = {n: max(peaks[n], sampler.peak[n]) for n in pids}
    await nc.close()

    volume = args.uploads * args.size / MB
    d, g = statistics.median(direct_s), statistics.median(gateway_s)
    print_table(
        f"{args.uploads} concurrent uploads of {args.size / MB:.1f} MB, {args.rounds} rounds",
        ["path", "median s", "MB/s", "each round, s"],
        [
            [name, x, volume / x, ", ".join(f"{r:.2f}" for r in runs)]
            for name, x, runs in (("direct S3", d, direct_s), ("gateway", g, gateway_s))
        ],
    )
    print(f"ratio gateway/direct: {d / g:.2f} (target ≥ 0.6)")
    count = args.uploads * args.rounds
    per_upload = {path: {n: 1000 * sec / count for n, sec in spent.items()} for path, spent in cpu.items()}
    print_table(
        "CPU per upload, ms (the bench client includes the PeakRss sampler on the gateway path)",
        ["process", "direct S3", "gateway"],
        [
            *[[n, per_upload["direct"][n], per_upload["gateway"][n]] for n in per_upload["direct"]],
            ["total", sum(per_upload["direct"].values()), sum(per_upload["gateway"].values())],
        ],
    )
    print_table(
        "RSS, MB (targets above idle: documents < 64, gateway < 100)",
        ["process", "idle", "peak", "above idle"],
        [[n, idle[n], peaks[n], peaks[n] - idle[n]] for n in pids],
    )
    save_results(
        "uploads",
        {
            "conditions": info,
            "direct_s": direct_s,
            "gateway_s": gateway_s,
            "idle": idle,
            "peak": peaks,
            "cpu_ms_per_upload": per_upload,
        },
    )


if __name__ == "__main__":
    parser = Arguments(__doc__, "10 uploads of 1 MB, 2 rounds", uploads=(50, 10), rounds=(3, 2), size=(5 * MB, MB))
    parser.add_argument("--uploads", type=int, help="concurrent uploads (default 50, quick 10)")
    parser.add_argument("--rounds", type=int, help="default 3, quick 2")
    parser.add_argument("--size", type=int, help="bytes per file (default 5 MB, quick 1 MB)")
    parser.add_argument("--accounts-stub", metavar="NATS_URL", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.accounts_stub:
        asyncio.run(accounts_stub(arguments.accounts_stub))
    else:
        run_main(lambda: main(arguments))
