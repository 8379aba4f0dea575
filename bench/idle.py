"""The platform at rest: the CPU each of its processes uses when nobody does anything.

What is measured and how: bench/README.md, "idle". The whole platform (every service, the gateway
and the web process, each its own process, with the demo campaign) is started, left to settle, then
the CPU each process uses over a quiet interval is read from /proc and given in ms per second.
Baselines in the same run: the same platform with its consumers asking JetStream for events every
second and its outbox relays polling every 0.5 s (CONSUMER_FETCH_WAIT=1, OUTBOX_POLL_INTERVAL=0.5,
what they did before), and with the relays' former poll alone; the configurations alternate round
by round.

Exit status: 0 when the run measured what it claims, 1 when it is broken (a process that died).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments, conditions, cpu_delta, platform, print_conditions, print_table  # noqa: E402
from bench._common import run_main, save_results  # noqa: E402

SERVICES = ("accounts", "dossiers", "candidatures", "documents", "mailer", "webhooks")
BASELINE = "fetch 1 s, poll 0.5 s"
DEFAULT = "defaults"
CONFIGURATIONS = {
    BASELINE: {"CONSUMER_FETCH_WAIT": "1", "OUTBOX_POLL_INTERVAL": "0.5"},
    "poll 0.5 s": {"OUTBOX_POLL_INTERVAL": "0.5"},
    DEFAULT: {},
}
NOT_PLATFORM = ("bench", "smtp sink")  # this process, and the SMTP sink that stands in for a mail server


def parse_args() -> argparse.Namespace:
    sized = {"seconds": (60.0, 4.0), "settle": (20.0, 3.0), "rounds": (2, 1)}
    parser = Arguments(__doc__, "smoke run: one round, 4 s measured after 3 s", **sized)
    parser.add_argument("--seconds", type=float, help="seconds measured at rest (default 60, quick 4)")
    parser.add_argument("--settle", type=float, help="seconds left to settle after the start (default 20, quick 3)")
    parser.add_argument("--rounds", type=int, help="rounds, each measuring both configurations (default 2, quick 1)")
    return parser.parse_args()


async def at_rest(name: str, env: dict[str, str], args: argparse.Namespace, info: dict[str, Any]) -> dict[str, float]:
    """ms of CPU per second of each process of a platform left alone."""
    async with platform(f"idle-{name.replace(' ', '-')}", SERVICES, info, env=env, web=True) as stack:
        await asyncio.sleep(args.settle)
        before = await stack.cpu()
        await asyncio.sleep(args.seconds)
        spent = cpu_delta(before, await stack.cpu())
    return {process: 1000 * seconds / args.seconds for process, seconds in spent.items() if process not in NOT_PLATFORM}


async def main() -> None:
    args = parse_args()
    info = conditions(
        mode="quick" if args.quick else "full",
        **{"seconds measured": args.seconds, "settle": args.settle, "rounds": args.rounds},
    )
    runs: list[dict[str, Any]] = []
    for round_no in range(1, args.rounds + 1):
        order = list(CONFIGURATIONS) if round_no % 2 else list(reversed(CONFIGURATIONS))
        for name in order:
            runs.append(
                {
                    "round": round_no,
                    "configuration": name,
                    "ms_per_s": await at_rest(name, CONFIGURATIONS[name], args, info),
                }
            )
    print_conditions(info)
    processes = sorted({p for r in runs for p in r["ms_per_s"]}, key=lambda p: (p in ("nats-server", "postgres"), p))
    medians = {
        name: {
            p: statistics.median(r["ms_per_s"].get(p, 0.0) for r in runs if r["configuration"] == name)
            for p in processes
        }
        for name in CONFIGURATIONS
    }
    totals = {name: sum(values.values()) for name, values in medians.items()}
    rows = [[p, *(medians[name][p] for name in CONFIGURATIONS)] for p in processes]
    rows.append(["total", *(totals[name] for name in CONFIGURATIONS)])
    print_table(
        "CPU at rest, ms per second (median over the rounds; postgres: this database's backends)",
        ["process", *CONFIGURATIONS],
        rows,
    )
    ratios = {name: totals[DEFAULT] / total if total else float("nan") for name, total in totals.items()}
    for name in CONFIGURATIONS:
        if name != DEFAULT:
            print(f"at rest, {DEFAULT} ÷ {name}: {ratios[name]:.2f} of the CPU")
    save_results("idle", {"conditions": info, "runs": runs, "ratio": ratios[BASELINE], "ratios": ratios})


if __name__ == "__main__":
    run_main(main)
