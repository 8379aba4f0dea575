"""50 concurrent 5 MB uploads through the gateway, beside direct uploads to the same S3 server.

    .venv/bin/python bench/uploads.py [--uploads 50] [--rounds 3] [--size 5242880]

Starts its own nats-server, S3 server (moto) and database, then the documents service and the
gateway as child processes (`python -m services.documents`, `python -m gateway`), and a stand-in
for the accounts service's `resolve_session` rpc in this process (the gateway's real
authenticator is used). Each round runs, in turn:

- direct: N concurrent HTTP PUTs of the file to the S3 server (presigned URLs, aiohttp);
- gateway: N concurrent `PUT /api/v1/candidatures/{id}/pieces/{slot}/fichier` of the same file
  (one candidature each), which the gateway streams to documents, which checks it (pypdf) and
  stores it in the same S3 server.

It prints the median throughput of each (MB/s), their ratio (target ≥ 0.5), and the peak RSS of
the gateway and documents processes above their idle RSS (sampled every 20 ms; target < 100 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import nats  # noqa: E402
from minio import Minio  # noqa: E402

from ecandidat.contracts.accounts import ResolveSession  # noqa: E402
from ecandidat.contracts.auth import Principal  # noqa: E402
from ecandidat.contracts.candidatures import CandidatureCreated, RequiredPiece  # noqa: E402
from ecandidat.contracts.documents import CandidaturePieces, ListPieces  # noqa: E402
from ecandidat.contracts.envelope import envelope  # noqa: E402
from ecandidat.contracts.errors import Unauthenticated  # noqa: E402
from ecandidat.contracts.subjects import event_subject  # noqa: E402
from ecandidat.devstack._process import free_port, reachable, spawn, terminate, wait_port  # noqa: E402
from ecandidat.devstack.infra import NatsServer, PostgresServer, S3Server, drop_database, ensure_database  # noqa: E402
from ecandidat.runtime.rpc import RpcClient, RpcServer  # noqa: E402
from tests.unit.documents.corpus import sized_pdf  # noqa: E402

MB = 1024 * 1024
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples the RSS of some processes while a block runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak = {name: 0.0 for name in pids}
        self._task: asyncio.Task | None = None

    async def _sample(self) -> None:
        while True:
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], rss_mb(pid))
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def timed(coros) -> float:
    started = time.perf_counter()
    results = await asyncio.gather(*coros)
    elapsed = time.perf_counter() - started
    bad = [r for r in results if r not in (200, 201)]
    if bad:
        raise SystemExit(f"BROKEN RUN: {len(bad)} uploads failed, statuses {sorted(set(bad))}")
    return elapsed


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    pg = None
    if not reachable("127.0.0.1", 5432):
        pg = PostgresServer(work / "pg", durable=False).start()
    admin = pg.url if pg else PG_ADMIN
    dbname = f"bench_uploads_{uuid.uuid4().hex[:8]}"
    database = await ensure_database(admin, dbname)
    processes = []
    with NatsServer(store_dir=work / "nats") as nats_server, S3Server(data_dir=work / "s3") as s3:
        gateway_port = free_port()
        env = dict(
            os.environ,
            DATABASE_URL=database,
            NATS_URL=nats_server.url,
            S3_ENDPOINT=s3.endpoint,
            S3_ACCESS_KEY=s3.access_key,
            S3_SECRET_KEY=s3.secret_key,
            S3_BUCKET="bench-pieces",
            GATEWAY_PORT=str(gateway_port),
            GATEWAY_SERVICES="documents",
            LOG_LEVEL="WARNING",
            RPC_TIMEOUT=os.environ.get("RPC_TIMEOUT", "15"),
            PYTHONPATH=str(ROOT),
        )
        try:
            documents = spawn([sys.executable, "-m", "services.documents"], work / "documents.log", env=env, cwd=ROOT)
            gateway = spawn([sys.executable, "-m", "gateway"], work / "gateway.log", env=env, cwd=ROOT)
            stub = spawn([sys.executable, __file__, "--accounts-stub", nats_server.url], work / "accounts.log", env=env)
            processes += [documents, gateway, stub]
            wait_port("127.0.0.1", gateway_port, timeout=60, process=gateway)
            await run(args, nats_server.url, s3, gateway_port, {"gateway": gateway.pid, "documents": documents.pid})
        finally:
            for p in processes:
                terminate(p)
    await drop_database(admin, dbname)
    if pg:
        pg.stop()


async def accounts_stub(nats_url: str) -> None:
    """Stand-in for the accounts service's `resolve_session`, run as a process of its own so that
    the load client (busy pushing bytes) does not delay the gateway's authentication: the token
    `<account uuid>` is a candidate with that account id."""
    nc = await nats.connect(nats_url)
    accounts = RpcServer(nc, "accounts")

    @accounts.route(ResolveSession)
    async def resolve(req: ResolveSession, ctx) -> Principal:
        try:
            return _candidate(uuid.UUID(req.token))
        except ValueError:
            raise Unauthenticated("Session inconnue.") from None

    await accounts.start()
    await asyncio.Event().wait()


def _candidate(account_id: uuid.UUID) -> Principal:
    return Principal(realm="candidate", account_id=account_id, email="b@example.org", numero_dossier="26BENCH0")


async def run(args, nats_url: str, s3: S3Server, port: int, pids: dict[str, int]) -> None:
    nc = await nats.connect(nats_url)
    rpc = RpcClient(nc, timeout=10)
    principals: dict[str, Principal] = {}
    deadline = time.monotonic() + 60
    while True:  # documents declares the streams and answers its health check once started
        try:
            await rpc.call_subject("rpc.documents.health", b"{}", timeout=2)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise SystemExit("BROKEN RUN: the documents service did not start (see its log)")
            await asyncio.sleep(0.5)
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
    client = Minio(
        s3.endpoint.split("//", 1)[1],
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        secure=False,
        region=s3.region,
    )
    if not client.bucket_exists("bench-direct"):
        client.make_bucket("bench-direct")
    gateway_url = f"http://127.0.0.1:{port}/api/v1/candidatures"
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

        await through_gateway(*slots.pop())  # warm-up: connections, imports, first S3 write
        for _ in range(args.uploads - 1):
            slots.pop()
        await asyncio.sleep(1.0)
        idle = {name: rss_mb(pid) for name, pid in pids.items()}
        direct_s, gateway_s = [], []
        peaks = {name: 0.0 for name in pids}
        for _ in range(args.rounds):
            urls = [client.presigned_put_object("bench-direct", f"{uuid.uuid4()}") for _ in range(args.uploads)]
            direct_s.append(await timed(direct(u) for u in urls))
            batch = [slots.pop() for _ in range(args.uploads)]
            async with PeakRss(pids) as sampler:
                gateway_s.append(await timed(through_gateway(*s) for s in batch))
            peaks = {n: max(peaks[n], sampler.peak[n]) for n in pids}
    await nc.close()

    volume = args.uploads * args.size / MB
    d, g = statistics.median(direct_s), statistics.median(gateway_s)
    print(
        f"\n{args.uploads} concurrent uploads of {args.size / MB:.1f} MB, {args.rounds} rounds, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'path':<10} {'median s':>9} {'MB/s':>8}  (each round, s)")
    print(f"{'direct S3':<10} {d:>9.2f} {volume / d:>8.1f}  {', '.join(f'{x:.2f}' for x in direct_s)}")
    print(f"{'gateway':<10} {g:>9.2f} {volume / g:>8.1f}  {', '.join(f'{x:.2f}' for x in gateway_s)}")
    print(f"ratio gateway/direct: {d / g:.2f} (target ≥ 0.5)")
    for name in pids:
        print(
            f"{name:<10} idle RSS {idle[name]:6.1f} MB, peak {peaks[name]:6.1f} MB, "
            f"above idle {peaks[name] - idle[name]:6.1f} MB (target < 100)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=5 * MB)
    parser.add_argument("--accounts-stub", metavar="NATS_URL", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.accounts_stub:
        asyncio.run(accounts_stub(arguments.accounts_stub))
    else:
        asyncio.run(main(arguments))
