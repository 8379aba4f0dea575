"""From "piece refused" to `incomplet` and to the mail, at a steady 50 refusals per second (issue 7 a).

What is measured and how: bench/README.md, "refusal_latency".

Exit status 1 when the run is broken (a refusal not answered 200, a candidature never `incomplet`,
a mail missing, a process that died); latencies over any target are reported, not failures.
"""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
import json
import math
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments  # noqa: E402
from bench._common import ALL_SERVICES, API, api, bare_server, BrokenRun, Call, Candidate, conditions  # noqa: E402
from bench._common import cpu_delta, create_candidates, echo_server, LoadResult  # noqa: E402
from bench._common import pct_row, platform, print_conditions, print_cpu_table, print_profiles  # noqa: E402
from bench._common import print_table, py_spy_during, ratio, request_load, run_main  # noqa: E402
from bench._common import save_results, Stack, staff_session, wait_listening, XminWatch  # noqa: E402
from ecandidat.runtime.nats import flush  # noqa: E402

# Formations with the fewest pieces (services/candidatures/seed.py): 4 for the five of FC-DIPL, 3 for VA85 and Reprise.
FORMATIONS = ["DU-MUSICO", "M1-BIOVIE", "DU-LSF", "DU-ERGO", "DU-ACCOMP", "VA85-LIC", "REPRISE-L1"]
COMMENT = "Document illisible : scannez-le à nouveau en couleur et déposez-le avant la date limite."
REFUSED = "evt.documents.piece.refused"
STATUS = "evt.candidatures.candidature.status_changed"


@dataclass
class Target:
    """One transmitted candidature and the piece that will be refused."""

    candidate: Candidate
    candidature_id: str
    slot_id: str
    formation: str


@dataclass
class Timeline:
    """What happened to refusal i (wall-clock times, time.time())."""

    due: float = math.nan
    answered: float = math.nan
    status: int = 0
    refused_at: float = math.nan  # piece.refused's `at` (documents, in its transaction)
    refused_seen: float = math.nan  # a NATS subscriber saw piece.refused
    event_id: str = ""
    incomplet_at: float = math.nan  # status_changed's changed_at (candidatures, in its transaction)
    incomplet_seen: float = math.nan  # a NATS subscriber saw status_changed
    polled: float = math.nan  # the candidate's GET first said `incomplet`
    queued: float = math.nan  # the mailer's delivery created_at
    mailed: float = math.nan  # the SMTP sink accepted the mail


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse_args() -> argparse.Namespace:
    parser = Arguments(__doc__.splitlines()[0], "smoke run: M = 20 refusals", refusals=(500, 20))
    parser.add_argument("--refusals", type=int, help="M, refusals (= candidatures prepared; default 500, quick 20)")
    parser.add_argument("--rate", type=float, default=50.0, help="refusals per second (default 50)")
    parser.add_argument("--poll-every", type=int, default=5, help="poll the candidate's view for 1 refusal in N")
    parser.add_argument("--mail-concurrency", type=int, help="the mailer's MAIL_SEND_CONCURRENCY (default: its own)")
    parser.add_argument("--sink-process", action="store_true", help="the SMTP sink in its own process, not a thread")
    parser.add_argument("--profile", action="store_true", help="py-spy on gateway, documents, candidatures, mailer")
    return parser.parse_args()


# -- set-up -------------------------------------------------------------------------------------------


async def prepare(stack: Stack, http: Any, count: int) -> list[Target]:
    """`count` transmitted candidatures with every piece deposited through the gateway."""
    from tests.unit.documents.corpus import reportlab_pdf

    assert stack.mailbox is not None
    pdf = reportlab_pdf("Pièce justificative")
    candidates = await create_candidates(stack, http, math.ceil(count / len(FORMATIONS)), "refus")
    wanted = [(c, f) for c in candidates for f in FORMATIONS][:count]
    gate = asyncio.Semaphore(6)

    async def one(candidate: Candidate, formation: str) -> Target:
        async with gate:
            call = partial(api, http, stack, token=candidate.token)
            _, view = await call("POST", f"{API}/candidatures", json_body={"formation_code": formation}, expect=(201,))
            cid = view["id"]
            deadline = time.monotonic() + 60
            while True:  # the documents service opens the slots from candidature.created (404: not known there yet)
                status, listed = await call("GET", f"{API}/candidatures/{cid}/pieces", expect=(200, 404))
                if status == 200 and listed["items"]:
                    break
                if time.monotonic() > deadline:
                    raise BrokenRun(f"no piece slots for candidature {cid} after 60 s")
                await asyncio.sleep(0.2)
            for item in listed["items"]:
                path = f"{API}/candidatures/{cid}/pieces/{item['slot_id']}/fichier"
                headers = {"X-File-Name": f"{item['code']}.pdf", "Content-Type": "application/octet-stream"}
                await call("PUT", path, data=pdf, expect=(201,), headers=headers)
            _, sent = await call("POST", f"{API}/candidatures/{cid}/transmission")
            if sent["statut"] != "receptionne":
                raise BrokenRun(f"candidature {cid} transmitted but {sent['statut']}")
            return Target(candidate, cid, listed["items"][0]["slot_id"], formation)

    targets = list(await asyncio.gather(*(one(c, f) for c, f in wanted)))
    emails = {c.email.lower() for c in candidates}

    def acknowledged(_: float, m: Any) -> bool:  # the transmissions' mails: nothing of the set-up still in flight
        return m["X-Ecandidat-Template"] == "candidature_transmitted" and str(m["To"]).lower() in emails

    mailbox = stack.mailbox
    await mailbox.wait(lambda: len(mailbox.matching(acknowledged)) >= len(targets), 180, "acknowledgement mails")
    return targets


# -- the run ------------------------------------------------------------------------------------------


class EventWatch:
    """A plain NATS subscriber of the two events: when each was seen, and its own times."""

    def __init__(self) -> None:
        self.refused: dict[str, tuple[float, dict[str, Any]]] = {}  # piece_slot_id → (seen, envelope)
        self.status: dict[str, tuple[float, dict[str, Any]]] = {}  # candidature_id → (seen, envelope)
        self.nc: Any = None

    async def start(self, url: str) -> None:
        import nats

        self.nc = await nats.connect(url, name="bench-refusal-watch")

        async def seen(msg: Any) -> None:
            at, event = time.time(), json.loads(msg.data)
            if msg.subject == REFUSED:
                self.refused[event["data"]["piece_slot_id"]] = (at, event)
            elif event["data"].get("new_status") == "incomplet":
                self.status[event["data"]["candidature_id"]] = (at, event)

        for subject in (REFUSED, STATUS):
            await self.nc.subscribe(subject, cb=seen)
        await flush(self.nc)

    async def stop(self) -> None:
        if self.nc is not None:
            await self.nc.close()


POLL_FIRST, POLL_GROWTH, POLL_MAX = 0.025, 1.25, 0.5


async def poll_incomplet(
    http: Any, stack: Stack, target: Target, due: float, interval: float, counter: list[int]
) -> float:
    """The candidate's view, polled from `due` until it says `incomplet`: every `interval` s at
    first, the interval growing ×1.25 per poll up to 0.5 s, so that the polls' own load stays bounded
    when the pipeline is slow (a fixed 25 ms poll fed back into the latency it measures)."""
    await asyncio.sleep(max(0.0, due - time.time()))
    deadline = due + 120
    url = f"{stack.base}{API}/candidatures/{target.candidature_id}"
    while time.time() < deadline:
        started = time.time()
        async with http.get(url, headers=target.candidate.auth) as resp:
            body = await resp.read()
            counter[0] += 1
            if resp.status == 200 and json.loads(body)["statut"] == "incomplet":
                return time.time()
        await asyncio.sleep(max(0.0, interval - (time.time() - started)))
        interval = min(POLL_MAX, interval * POLL_GROWTH)
    return math.nan


async def run_refusals(
    stack: Stack, targets: list[Target], staff_token: str, args: argparse.Namespace, watch: EventWatch
) -> tuple[LoadResult, list[Timeline], dict[str, Any]]:
    import aiohttp

    interval = 1.0 / args.rate
    auth, body = {"Authorization": f"Bearer {staff_token}"}, {"decision": "refusee", "commentaire": COMMENT}
    examen = f"{API}/staff/candidatures/{{}}/pieces/{{}}/examen"
    calls = [Call("POST", examen.format(t.candidature_id, t.slot_id), auth, body) for t in targets]
    polls = [0]
    cpu0 = await stack.cpu()
    start = time.time() + 0.2
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        pollers = {
            i: asyncio.create_task(poll_incomplet(http, stack, t, start + i * interval, POLL_FIRST, polls))
            for i, t in enumerate(targets)
            if i % args.poll_every == 0
        }
        await asyncio.sleep(max(0.0, start - time.time()))
        result, answers = await request_load(
            stack.base, calls, concurrency=256, interval=interval, label="refusals", timeout=60
        )
        polled = {i: await task for i, task in pollers.items()}
    timelines = [Timeline(due=a.scheduled, answered=a.scheduled + a.latency, status=a.status) for a in answers]
    for i, poll in polled.items():
        timelines[i].polled = poll
    # Wait for every refusal's two consequences (the events and the mails), then read the mail log.
    by_slot = {t.slot_id: i for i, t in enumerate(targets)}
    by_cid = {t.candidature_id: i for i, t in enumerate(targets)}
    assert stack.mailbox is not None
    mails: dict[str, float] = {}

    def consequences() -> bool:
        for at, message in stack.mailbox.matching(lambda t, m: m["X-Ecandidat-Template"] == "piece_refused"):
            mails.setdefault(str(message["X-Ecandidat-Event-Id"]), at)
        return len(watch.status) >= len(targets) and len(mails) >= len(targets)

    try:
        await stack.mailbox.wait(consequences, 180, f"{len(targets)} incomplet events and refusal mails")
    except BrokenRun:
        pass  # reported below as missing
    cpu = cpu_delta(cpu0, await stack.cpu())
    for slot, (seen, event) in watch.refused.items():
        if slot in by_slot:
            line = timelines[by_slot[slot]]
            line.refused_seen, line.refused_at, line.event_id = seen, ts(event["data"]["at"]), str(event["id"])
    for cid, (seen, event) in watch.status.items():
        if cid in by_cid:
            line = timelines[by_cid[cid]]
            line.incomplet_seen, line.incomplet_at = seen, ts(event["data"]["changed_at"])
    by_event = {line.event_id: line for line in timelines if line.event_id}
    for event_id, at in mails.items():
        if event_id in by_event:
            by_event[event_id].mailed = at
    async with aiohttp.ClientSession() as http:
        for email in {t.candidate.email for t in targets}:
            deliveries = f"{API}/staff/mail/deliveries?recipient={email}&limit=500"
            _, log = await api(http, stack, "GET", deliveries, token=staff_token)
            for item in log["items"]:
                if str(item["event_id"]) in by_event:
                    by_event[str(item["event_id"])].queued = ts(item["created_at"])
    extra = {"cpu": cpu, "polls": polls[0], "polled": len(polled)}
    return result, timelines, extra


STAGES = [
    ("staff request answered", "answered"),
    ("piece.refused committed (documents)", "refused_at"),
    ("piece.refused published (relay → NATS)", "refused_seen"),
    ("incomplet committed (candidatures)", "incomplet_at"),
    ("status_changed published", "incomplet_seen"),
    ("incomplet seen by the candidate (GET, sampled)", "polled"),
    ("mail queued (mailer)", "queued"),
    ("mail accepted by the SMTP server", "mailed"),
]
HOPS = [
    ("due → piece.refused committed (gateway, session, documents)", "due", "refused_at"),
    ("piece.refused committed → published (documents' outbox relay)", "refused_at", "refused_seen"),
    ("piece.refused published → incomplet committed (candidatures' consumer)", "refused_seen", "incomplet_at"),
    ("incomplet committed → published (candidatures' outbox relay)", "incomplet_at", "incomplet_seen"),
    ("piece.refused published → mail queued (mailer's consumer)", "refused_seen", "queued"),
    ("mail queued → accepted by the SMTP server (mailer's sender, sink)", "queued", "mailed"),
]


def span_rows(timelines: list[Timeline], spans: list[tuple[str, str, str]], of: bool = False) -> list[list[Any]]:
    """Percentiles (ms) of each span's `b - a` over the refusals that have both times; with `of`, the
    count is "that many/of the refusals that have `b` to have" (the sampled ones for `polled`)."""
    rows = []
    for label, a, b in spans:
        values = [
            (getattr(t, b) - getattr(t, a)) * 1000 for t in timelines if not math.isnan(getattr(t, a) + getattr(t, b))
        ]
        expected = len(values) if b == "polled" else len(timelines)
        rows.append(pct_row(label, f"{len(values)}/{expected}" if of else len(values), values))
    return rows


async def baseline(base: str, when: str, count: int, rate: float) -> list[LoadResult]:
    """The bare /health and bare + NATS echo, with the same open-loop client."""
    results = []
    for path, label in (("/health", f"bare /health ({when})"), ("/rpc", f"bare + NATS echo ({when})")):
        calls = [Call("GET", path)] * count
        results.append((await request_load(base, calls, concurrency=256, interval=1.0 / rate, label=label))[0])
    return results


async def main() -> list[str]:
    import aiohttp

    args = parse_args()
    info = conditions(
        mode="quick" if args.quick else "full",
        refusals=args.refusals,
        rate=f"{args.rate:g}/s open loop (one due every {1000 / args.rate:g} ms)",
        polling=f"1 refusal in {args.poll_every}, from every {POLL_FIRST * 1000:g} ms, ×{POLL_GROWTH} per poll, "
        f"up to {POLL_MAX * 1000:g} ms",
    )
    env = {"MAIL_SEND_CONCURRENCY": str(args.mail_concurrency)} if args.mail_concurrency else {}
    if env:
        info["mailer"] = f"MAIL_SEND_CONCURRENCY={args.mail_concurrency}"
    if args.sink_process:
        info["smtp sink"] = "its own process (`python -m ecandidat.devstack.smtpsink`), read from its Maildir"
    smtp = "process" if args.sink_process else True
    async with platform("refusal_latency", ALL_SERVICES, info, env=env, smtp=smtp) as stack:
        bare, bare_port = bare_server(stack.logs, stack.nats_url)
        echo = echo_server(stack.logs, stack.nats_url)
        with bare, echo:
            wait_listening(bare_port, bare)
            bare_base = f"http://127.0.0.1:{bare_port}"
            started = time.monotonic()
            async with aiohttp.ClientSession() as http:
                targets = await prepare(stack, http, args.refusals)
                staff = await staff_session(stack, http)
            info["set-up"] = (
                f"{len(targets)} transmitted candidatures of {len({t.candidate.email for t in targets})} "
                f"candidates, pieces uploaded through the gateway, in {time.monotonic() - started:.0f} s"
            )
            print_conditions(info)
            baselines = await baseline(bare_base, "before", len(targets), args.rate)
            watch = EventWatch()
            await watch.start(stack.nats_url)
            pids = {n: stack.pid(n) for n in ("gateway", "documents", "candidatures", "mailer")}
            try:
                async with XminWatch(stack.db.url) as xmin:
                    work = run_refusals(stack, targets, staff, args, watch)
                    if args.profile:
                        profiles, (result, timelines, extra) = await py_spy_during(
                            pids, stack.logs, len(targets) / args.rate + 6, work, rate=250
                        )
                    else:
                        profiles, (result, timelines, extra) = {}, await work
            finally:
                await watch.stop()
            mailed = [t.mailed for t in timelines if not math.isnan(t.mailed)]
            extra["xmin"] = xmin.rows(timelines[0].due, max(mailed, default=time.time()))
            extra["profiles"] = profiles
            baselines += await baseline(bare_base, "after", len(targets), args.rate)
            stack.check()
    return report(info, args, result, timelines, extra, baselines)


def report(
    info: dict[str, Any],
    args: argparse.Namespace,
    result: LoadResult,
    timelines: list[Timeline],
    extra: dict[str, Any],
    baselines: list[LoadResult],
) -> list[str]:
    print()
    print_conditions(info)
    n = len(timelines)
    last_answer = max((t.answered for t in timelines if not math.isnan(t.answered)), default=math.nan)
    print(
        f"refusals: {result.ok}/{n} answered 200, due over {(n - 1) / args.rate:.2f} s, last answer "
        f"{last_answer - timelines[0].due:.2f} s after the first was due; {extra['polls']} candidate polls "
        f"for {extra['polled']} sampled refusals\n"
    )
    rows = span_rows(timelines, [(label, "due", key) for label, key in STAGES], of=True)
    print_table(
        f"latency from when the refusal was due (open loop, {args.rate:g}/s), ms",
        ["stage", "n", "p50", "p90", "p99", "max"],
        rows,
    )
    base_rows = [[b.label, f"{b.ok}/{n}", b.ms(50), b.ms(90), b.ms(99), b.ms(100)] for b in baselines]
    print_table(
        f"baselines: the same open-loop client, {args.rate:g}/s, {n} requests, ms",
        ["target", "ok", "p50", "p90", "p99", "max"],
        base_rows,
    )
    bare_p50 = sum(b.ms(50) for b in baselines if "NATS" not in b.label) / 2
    bare_p99 = sum(b.ms(99) for b in baselines if "NATS" not in b.label) / 2
    echo_p50 = sum(b.ms(50) for b in baselines if "NATS" in b.label) / 2
    ratios = [[row[0], ratio(row[2], bare_p50), ratio(row[4], bare_p99), ratio(row[2], echo_p50)] for row in rows]
    print_table(
        "ratios: stage p50 / bare p50, stage p99 / bare p99 (bare: mean of before and after), "
        "stage p50 / bare+NATS p50",
        ["stage", "p50 ratio", "p99 ratio", "p50 / NATS echo"],
        ratios,
    )
    tenth = max(1, n // 10)
    kept_up = [
        ("staff request answered", "answered"),
        ("incomplet committed", "incomplet_at"),
        ("mail accepted", "mailed"),
    ]
    kept_up_from_due = [(label, "due", key) for label, key in kept_up]
    first, last = span_rows(timelines[:tenth], kept_up_from_due), span_rows(timelines[-tenth:], kept_up_from_due)
    print_table(
        "keeping up: p50 (ms) of the first and the last tenth of the refusals",
        ["stage", "first 10%", "last 10%"],
        [[a[0], a[2], b[2]] for a, b in zip(first, last)],
    )
    hops = span_rows(timelines, HOPS)
    print_table(
        "each hop, per refusal, ms (differences of the times above; a relay waits for its own "
        "outbox's writers in flight, see README)",
        ["hop", "n", "p50", "p90", "p99", "max"],
        hops,
    )
    if extra.get("xmin"):
        print_table(
            "the oldest transaction holding a transaction id in the whole PostgreSQL cluster, sampled every "
            "50 ms during the run: its age (ms), and whose it was",
            ["", "samples", "p50", "p90", "p99", "max"],
            extra["xmin"],
        )
    print_cpu_table(
        "CPU ms per refusal, by process, from the first refusal due to the last consequence (postgres: this "
        f"database's backends; bench: load client, pollers, NATS watcher{'' if args.sink_process else ', SMTP sink'})",
        n,
        [("refusal run", extra["cpu"])],
        sink_process=args.sink_process,
    )
    print_profiles(extra.get("profiles", {}), " (the run was slowed down by the sampling)")
    save_results(
        "refusal_latency",
        {
            "conditions": info,
            "refusals": result.summary(),
            "stages": rows,
            "baselines": [b.summary() for b in baselines],
            "cpu": extra["cpu"],
            "timelines": [t.__dict__ for t in timelines],
        },
    )
    problems = []
    if result.ok != n:
        problems.append(f"{n - result.ok} refusals not answered 200: {result.failure_samples}")
    for label, key in (("incomplet", "incomplet_at"), ("mail", "mailed")):
        missing = sum(1 for t in timelines if math.isnan(getattr(t, key)))
        if missing:
            problems.append(f"{missing} refusals without their {label}")
    polled_missing = sum(1 for i, t in enumerate(timelines) if i % args.poll_every == 0 and math.isnan(t.polled))
    if polled_missing:
        problems.append(f"{polled_missing} polled candidatures never seen incomplet")
    if any(b.failed for b in baselines):
        problems.append("baseline requests failed")
    return problems


if __name__ == "__main__":
    run_main(main)
