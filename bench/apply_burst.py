"""The campaign-opening burst: N candidates applying at once through the gateway (issue 5).

What is measured and how: bench/README.md, "apply_burst".

Exit status 1 when the run is broken (an apply that did not answer 201, a candidate whose list is
not exactly one candidature per burst, a confirmation mail missing, a process that died); a slow
result is not a failure. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments  # noqa: E402
from bench._common import ALL_SERVICES, API, bare_server, BrokenRun, Call, Candidate, conditions  # noqa: E402
from bench._common import cpu_delta, create_candidates, LoadResult, median, platform, print_conditions  # noqa: E402
from bench._common import print_cpu_table, print_profiles, print_rounds_summary, print_table  # noqa: E402
from bench._common import py_spy_during, request_load, run_main, Sampler, save_results, Stack, wait_listening  # noqa: E402

# The demo offer's formations (services/candidatures/seed.py); one per burst, the last for the warm-up.
FORMATIONS = ["DU-MUSICO", "M1-BIOVIE", "DU-LSF", "DU-ERGO", "DU-ACCOMP", "VA85-LIC", "REPRISE-L1", "DAEU-A", "DAEU-B"]
WARMUP_FORMATION = "DAEU-B"


class WaitSampler(Sampler):
    """What this database's backends are doing, sampled every 20 ms while the block runs:
    (state, wait event) → samples, e.g. ('active', 'Lock:object') for a commit waiting for the
    cluster-wide NOTIFY lock, ('active', 'IO:WALSync') for a commit flushing, ('idle in transaction',
    'Client:ClientRead') for a transaction waiting for its service's next statement."""

    def __init__(self, dsn: str) -> None:
        super().__init__(0.02, dsn)
        self.counts: dict[str, int] = {}
        self.samples = 0

    async def sample(self) -> None:
        rows = await self.conn.fetch(
            """SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU (no wait)') AS what
               FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND state IN ('active', 'idle in transaction') AND backend_type = 'client backend'"""
        )
        self.samples += 1
        for r in rows:
            self.counts[f"{r['state']}: {r['what']}"] = self.counts.get(f"{r['state']}: {r['what']}", 0) + 1

    def rows(self) -> list[list[Any]]:
        total = max(1, self.samples)
        return [[key, count, count / total] for key, count in sorted(self.counts.items(), key=lambda kv: -kv[1])]


# -- the burst ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = Arguments(__doc__, "smoke run: 10 candidates, 2 rounds", candidates=(200, 10), rounds=(3, 2))
    parser.add_argument("--candidates", type=int, help="N, candidates in each burst (default 200, quick 10)")
    parser.add_argument("--rounds", type=int, help="bursts, each beside a bare one (default 3, quick 2)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one more burst with py-spy sampling gateway, accounts, dossiers, candidatures",
    )
    args = parser.parse_args()
    args.rounds = min(args.rounds, len(FORMATIONS) - 2)
    return args


WARMUP = 4


async def burst(
    stack: Stack, candidates: list[Candidate], formation: str, label: str, waits: WaitSampler | None = None
) -> dict[str, Any]:
    """Everyone applies to `formation` at once; then wait for their N confirmation mails."""
    assert stack.mailbox is not None
    calls = [Call("POST", f"{API}/candidatures", c.auth, {"formation_code": formation}, expect=201) for c in candidates]
    emails = {c.email.lower() for c in candidates}
    cpu0 = await stack.cpu()
    async with waits if waits is not None else contextlib.nullcontext():
        started = time.time()
        result, answers = await request_load(stack.base, calls, concurrency=len(calls), label=label, timeout=60)
    cpu_answers = await stack.cpu()

    def confirmation(t: float, m: Any) -> bool:
        return t >= started and str(m["To"]).lower() in emails and m["X-Ecandidat-Template"] == "candidature_created"

    def confirmations(count: int) -> Callable[[], list[float]]:
        def check() -> list[float]:  # the confirmation mails' times once there are `count`, else none
            found = sorted(t for t, _ in stack.mailbox.matching(confirmation))
            return found if len(found) >= count else []

        return check

    mails: list[float] = []
    if result.ok:
        mails = await stack.mailbox.wait(confirmations(result.ok), 120, f"{result.ok} confirmation mails ({label})")
    if result.ok < len(candidates):  # applies answered 504 may have been created all the same: their mails too
        with contextlib.suppress(BrokenRun):
            mails = await stack.mailbox.wait(confirmations(len(candidates)), 30, "")
    cpu_mails = await stack.cpu()
    stack.check()
    cpu = {"cpu_answers": cpu_delta(cpu0, cpu_answers), "cpu_total": cpu_delta(cpu0, cpu_mails)}
    tail = (mails[-1] - started) if mails else float("nan")
    return {"result": result, "answers": answers, "started": started, "mails_all_s": tail, "mails": len(mails)} | cpu


async def bare_burst(base: str, candidates: list[Candidate], formation: str) -> LoadResult:
    calls = [Call("POST", "/echo", c.auth, {"formation_code": formation}) for c in candidates]
    result, _ = await request_load(base, calls, concurrency=len(calls), label="bare aiohttp POST /echo")
    return result


async def reference_burst(stack: Stack, candidates: list[Candidate]) -> LoadResult:
    """The part of an apply that is not the candidatures service's own: the gateway, the session
    (accounts rpc) and the dossier's completeness (dossiers rpc), at the same concurrency."""
    calls = [Call("GET", f"{API}/dossier/completude", c.auth) for c in candidates]
    result, _ = await request_load(stack.base, calls, concurrency=len(calls), label="GET /dossier/completude")
    return result


async def main() -> list[str]:
    import aiohttp

    args = parse_args()
    info = conditions(mode="quick" if args.quick else "full", candidates=args.candidates, rounds=args.rounds)
    rows: list[dict[str, Any]] = []
    profiles: dict[str, Path] = {}
    async with platform("apply_burst", ALL_SERVICES, info) as stack:
        bare, bare_port = bare_server(stack.logs)
        with bare:
            wait_listening(bare_port, bare)
            bare_base = f"http://127.0.0.1:{bare_port}"
            setup_started = time.monotonic()
            async with aiohttp.ClientSession() as http:
                everyone = await create_candidates(stack, http, args.candidates + WARMUP, "burst")
            info["set-up"] = (
                f"{len(everyone)} candidates (account, activation, login, 3 dossier sections) in "
                f"{time.monotonic() - setup_started:.0f} s"
            )
            warm, candidates = everyone[:WARMUP], everyone[WARMUP:]
            await burst(stack, warm, WARMUP_FORMATION, "warm-up")
            await bare_burst(bare_base, warm, WARMUP_FORMATION)
            print_conditions(info)
            waits = WaitSampler(stack.db.url)
            used = []
            for rnd in range(args.rounds):
                formation = FORMATIONS[rnd]
                used.append(formation)
                order = ["bare", "reference", "apply"]
                order = order[rnd % 3 :] + order[: rnd % 3]  # rotate, so that drift favours none
                row: dict[str, Any] = {"round": rnd + 1, "formation": formation}
                for target in order:
                    await asyncio.sleep(1.0)  # let the previous burst's background work settle
                    if target == "bare":
                        row["bare"] = await bare_burst(bare_base, candidates, formation)
                    elif target == "reference":
                        row["reference"] = await reference_burst(stack, candidates)
                    else:
                        row.update(await burst(stack, candidates, formation, f"apply {formation}", waits))
                rows.append(row)
                gw, bb, ref = row["result"], row["bare"], row["reference"]
                print(
                    f"  round {rnd + 1} ({formation}): {gw.ok}/{len(candidates)} applied in {gw.elapsed:.2f} s "
                    f"= {gw.rps:.1f}/s, p50 {gw.ms(50):.0f} ms, p99 {gw.ms(99):.0f} ms; mails all sent at "
                    f"+{row['mails_all_s']:.2f} s | completude {ref.rps:.0f}/s p99 {ref.ms(99):.0f} ms "
                    f"| bare {bb.rps:.0f}/s p99 {bb.ms(99):.1f} ms",
                    flush=True,
                )
            if args.profile:
                formation = FORMATIONS[args.rounds]
                used.append(formation)
                pids = {n: stack.pid(n) for n in ("gateway", "accounts", "dossiers", "candidatures")}
                work = burst(stack, candidates, formation, f"profiled {formation}")
                profiles, prof = await py_spy_during(pids, stack.logs, 11, work, rate=250)
                print(f"  profiled burst: {prof['result'].rps:.1f}/s (py-spy slows the processes)")
            broken = await check_lists(stack, candidates, used, rows)
    report(info, rows, profiles, len(candidates), waits)
    return (
        [
            f"round {r['round']}: {r['result'].failed} of {len(candidates)} applies not answered 201 "
            f"({r.get('failed_but_created', 0)} created nevertheless): {r['result'].failure_samples[:1]}"
            for r in rows
            if r["result"].ok != len(candidates)
        ]
        + broken
        + [
            f"round {r['round']}: {r[k].failed} {k} requests failed {r[k].failure_samples}"
            for r in rows
            for k in ("bare", "reference")
            if r[k].failed
        ]
    )


async def check_lists(
    stack: Stack, candidates: list[Candidate], formations: list[str], rows: list[dict[str, Any]]
) -> list[str]:
    """Every candidate holds exactly one candidature per burst's formation, and nothing else; an
    apply that was not answered 201 but whose candidature exists is counted per round."""
    calls = [Call("GET", f"{API}/candidatures", c.auth) for c in candidates]
    result, answers = await request_load(stack.base, calls, concurrency=8, label="check")
    wrong, held = [], []
    for candidate, answer in zip(candidates, answers):
        listed = json.loads(answer.body)["items"] if answer.status == 200 else []
        held.append({item["formation_code"] for item in listed})
        if answer.status != 200 or sorted(item["formation_code"] for item in listed) != sorted(formations):
            wrong.append(f"{candidate.email}: {sorted(held[-1]) if answer.status == 200 else answer.status}")
    print(
        f"  check: {len(candidates) - len(wrong)}/{len(candidates)} candidates hold exactly one candidature "
        f"for each of {', '.join(formations)}"
    )
    for row in rows:
        failed = [i for i, a in enumerate(row["answers"]) if a.status != 201]
        created = sum(1 for i in failed if row["formation"] in held[i])
        row["failed_but_created"] = created
        if failed:
            statuses = sorted({a.status for a in row["answers"] if a.status != 201})
            print(
                f"  round {row['round']}: {len(failed)} applies answered {statuses} instead of 201; "
                f"{created} of them were nevertheless created (the service finished after the gateway gave up)"
            )
    return [f"{len(wrong)} candidates with a wrong list, e.g. {wrong[:3]}"] if wrong else []


def report(
    info: dict[str, Any], rows: list[dict[str, Any]], profiles: dict[str, Path], n: int, waits: WaitSampler
) -> None:
    print()
    print_conditions(info)
    targets = {"result": "POST /candidatures", "reference": "GET /dossier/completude", "bare": "bare POST /echo"}
    table = [
        [r["round"], r["formation"] if key == "result" else "", label, f"{r[key].ok}/{n}", r[key].elapsed]
        + [r[key].rps, r[key].ms(50), r[key].ms(99), r[key].ms(100), r["mails_all_s"] if key == "result" else None]
        for r in rows
        for key, label in targets.items()
    ]
    print_table(
        f"each burst: {n} requests at once (concurrency {n}, one per candidate, same load client)",
        "round|formation|target|ok|burst s|req/s|p50 ms|p99 ms|max ms|mails done s".split("|"),
        table,
    )
    print_rounds_summary(
        [r[key].summary() | {"label": label, "round": r["round"]} for r in rows for key, label in targets.items()],
        targets["bare"],
    )
    tails = [r["mails_all_s"] for r in rows]
    print(
        f"  confirmation mails: all {n} accepted by the SMTP sink at +{median(tails):.2f} s after the release "
        f"(median of rounds; per round: {', '.join(f'{t:.2f}' for t in tails)})\n"
    )
    print_cpu_table(
        "CPU ms per candidature, by process, from the release of the burst (postgres: this database's "
        "backends; bench: load client + SMTP sink)",
        n,
        [(f"{r['round']}: until the last 201", r["cpu_answers"]) for r in rows]
        + [(f"{r['round']}: until the last mail", r["cpu_total"]) for r in rows],
    )
    print_table(
        f"this database's client backends during the apply bursts, {waits.samples} samples every 20 ms: "
        "state and wait event (mean backends per sample)",
        ["state: wait event", "backend samples", "mean"],
        waits.rows(),
    )
    print_profiles(profiles)
    saved = [{k: v.summary() if isinstance(v, LoadResult) else v for k, v in r.items() if k != "answers"} for r in rows]
    waited = {"pg_waits": waits.counts, "pg_wait_samples": waits.samples}
    save_results("apply_burst", {"conditions": info, "rounds": saved} | waited)


if __name__ == "__main__":
    run_main(main)
