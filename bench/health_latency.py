"""`GET /health` through gateway → NATS → mailer, beside a bare aiohttp JSON endpoint.

What is measured and how: bench/README.md, "health_latency". Baselines in the same run: `bare
aiohttp` (`bench/_common.py bare`) and `bare + NATS echo` (the same after one plain NATS
request/reply to `bench/_common.py echo`: the floor of any gateway → service call).

Exit status: 0 when the run measured what it claims (whatever the ratio), 1 when it is broken
(a non-200 answer, a client error, a process that died).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments, alternate, bare_server, BrokenRun, conditions, echo_server, http_load  # noqa: E402
from bench._common import LoadResult, LOCALHOST, platform, print_conditions, print_profiles  # noqa: E402
from bench._common import print_rounds_summary, print_table, proc_cpu_seconds, py_spy_during, run_main  # noqa: E402
from bench._common import save_results, wait_healthy, wait_listening  # noqa: E402

BARE = "bare aiohttp"
BARE_RPC = "bare + NATS echo"
GATEWAY = "gateway /health"


def parse_args() -> argparse.Namespace:
    sized = {"duration": (6.0, 1.0), "warmup": (1.0, 0.5), "rounds": (3, 2)}
    parser = Arguments(
        "GET /health through gateway → NATS → mailer beside bare aiohttp", "smoke run: 2 rounds of 1 s", **sized
    )
    parser.add_argument("--concurrency", default="1,16", help="client concurrency levels (default 1,16)")
    parser.add_argument("--duration", type=float, help="seconds per measurement (default 6, quick 1)")
    parser.add_argument(
        "--rounds", type=int, help="rounds per concurrency, each measuring every target (default 3, quick 2)"
    )
    parser.add_argument("--warmup", type=float, help="seconds of warm-up load on each target (default 1, quick 0.5)")
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        metavar="SECONDS",
        help="after the measurements, sample gateway and mailer with py-spy during one more run",
    )
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    return args


async def main() -> None:
    args = parse_args()
    info = conditions(
        mode="quick" if args.quick else "full",
        concurrency=",".join(map(str, args.concurrency)),
        **{"seconds per run": args.duration, "rounds": args.rounds},
    )
    profiles: dict[str, Path] = {}
    env = {"GATEWAY_HEALTH_SHARED_FOR": "0"}  # every request goes through NATS to the mailer
    async with platform("health_latency", ("mailer",), info, env=env) as stack:
        bare, bare_port = bare_server(stack.logs, stack.nats_url)
        echo = echo_server(stack.logs, stack.nats_url)
        with bare, echo:
            wait_listening(bare_port, bare)
            bare_url = f"http://{LOCALHOST}:{bare_port}"
            await wait_healthy(bare_url + "/rpc", [bare, echo])
            targets = {BARE: bare_url + "/health", BARE_RPC: bare_url + "/rpc", GATEWAY: stack.base + "/health"}
            nats = stack.nats_pid
            pids = {
                BARE: {"server": bare.pid},
                BARE_RPC: {"server": bare.pid, "echo": echo.pid, "nats-server": nats},
                GATEWAY: {"gateway": stack.pid("gateway"), "mailer": stack.pid("mailer"), "nats-server": nats},
            }
            for label, url in targets.items():  # warm-up, not reported
                await http_load(url, concurrency=max(args.concurrency), duration=args.warmup, label=label)
            print_conditions(info)

            async def run(label: str, url: str, concurrency: int) -> tuple[LoadResult, dict[str, Any]]:
                before = {name: proc_cpu_seconds(pid) for name, pid in pids[label].items()}
                result = await http_load(url, concurrency=concurrency, duration=args.duration, label=label)
                cpu = {name: proc_cpu_seconds(pid) - before[name] for name, pid in pids[label].items()}
                for process in (*stack.processes.values(), bare, echo):
                    process.check()
                return result, {"server_cpu_s": cpu}

            results = await alternate(targets, args.concurrency, args.rounds, run)
            if args.profile:
                top = max(args.concurrency)
                work = http_load(targets[GATEWAY], concurrency=top, duration=args.profile, label="profiled")
                profiles, result = await py_spy_during(pids[GATEWAY], stack.logs, args.profile, work)
                print(f"  profiled run: C={top}, {result.rps:,.0f} req/s (py-spy slows the processes down)")
            log_tails = {p.name: _warnings(p.log_file) for p in (*stack.processes.values(), bare)}
    report(info, results, log_tails, profiles)


def _failing_checks(sample: str) -> str:
    """'503 {...health json...}' → '503: mailer.smtp: KeyError ...' (the raw sample when it is not that)."""
    status, _, body = sample.partition(" ")
    try:
        services = json.loads(body)["services"]
        failing = [
            f"{name}.{check}: {result.get('detail')}"
            for name, service in services.items()
            for check, result in (service.get("checks") or {}).items()
            if not result.get("ok")
        ] + [f"{name}: {service.get('error')}" for name, service in services.items() if service.get("error")]
        return f"{status}: " + "; ".join(failing or ["no failing check named"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return sample[:300]


def _warnings(path: Path) -> list[str]:
    """Warning and error lines of a process log (json lines), for the report."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [
        line for line in lines if '"level": "warning"' in line or '"level": "error"' in line or "Traceback" in line
    ][:10]


def report(
    info: dict[str, Any],
    results: list[dict[str, Any]],
    log_tails: dict[str, list[str]],
    profiles: dict[str, Path],
) -> None:
    print()
    print_conditions(info)
    rows = []
    for r in results:
        ok = max(1, r["ok"])
        cpu = "  ".join(f"{name} {seconds / ok * 1e6:.0f}" for name, seconds in r["server_cpu_s"].items())
        keys = ("concurrency", "round", "label", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "failed")
        rows.append([*(r[k] for k in keys), r["client_cpu_s"] / ok * 1e6, cpu])
    headers = "C|round|target|req/s|p50 ms|p90 ms|p99 ms|max ms|failed|client CPU µs/req|server CPU µs/req"
    print_table("each run", headers.split("|"), rows)
    print_rounds_summary(results, BARE)
    for name, lines in log_tails.items():
        if lines:
            print(f"warnings in the {name} log:")
            for line in lines:
                print("  " + line[:300])
            print()
    print_profiles(profiles)
    save_results("health_latency", {"conditions": info, "runs": results})
    failed = [r for r in results if r["failed"] or not r["ok"]]
    for r in failed:
        for sample in r["failure_samples"]:
            print(f"failed answer ({r['label']}, C={r['concurrency']}, round {r['round']}): {_failing_checks(sample)}")
    if failed:
        raise BrokenRun(
            "; ".join(
                f"{r['label']} C={r['concurrency']} round {r['round']}: statuses {r['statuses']} errors {r['errors']}"
                for r in failed
            )
        )


if __name__ == "__main__":
    run_main(main)
