"""`GET /health` through gateway → NATS → mailer, beside a bare aiohttp JSON endpoint.

What is measured and how: bench/README.md, "health_latency". Baselines in the same run: `bare
aiohttp` (`bench/_common.py bare`) and `bare + NATS echo` (the same after one plain NATS
request/reply to `bench/_common.py echo`: the floor of any gateway → service call).

Exit status: 0 when the run measured what it claims (whatever the ratio), 1 when it is broken
(a non-200 answer, a client error, a process that died).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import alternate, Arguments, bare_server, conditions, echo_server, http_load  # noqa: E402
from bench._common import levels, LOCALHOST, platform, print_conditions, print_profiles, print_rounds_summary  # noqa: E402
from bench._common import print_each_run, py_spy_during, raise_failed, run_main, save_results  # noqa: E402
from bench._common import wait_healthy, wait_listening  # noqa: E402

BARE = "bare aiohttp"
BARE_RPC = "bare + NATS echo"
GATEWAY = "gateway /health"


def parse_args() -> argparse.Namespace:
    sized = {"duration": (6.0, 1.0), "warmup": (1.0, 0.5), "rounds": (3, 2)}
    parser = Arguments(__doc__, "smoke run: 2 rounds of 1 s", **sized)
    parser.add_argument("--concurrency", default=[1, 16], type=levels, help="client concurrency levels (default 1,16)")
    parser.add_argument("--duration", type=float, help="seconds per measurement (default 6, quick 1)")
    parser.add_argument(
        "--rounds", type=int, help="rounds per concurrency, each measuring every target (default 3, quick 2)"
    )
    parser.add_argument("--warmup", type=float, help="seconds of warm-up load on each target (default 1, quick 0.5)")
    profile = "then sample gateway and mailer with py-spy during one more run of SECONDS"
    parser.add_argument("--profile", type=float, default=0, metavar="SECONDS", help=profile)
    return parser.parse_args()


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
            await wait_healthy(bare_url + "/rpc", [bare, echo])  # 503 until the echo process subscribes
            targets = {BARE: bare_url + "/health", BARE_RPC: bare_url + "/rpc", GATEWAY: stack.base + "/health"}
            nats = stack.nats_pid
            pids = {
                BARE: {"server": bare.pid},
                BARE_RPC: {"server": bare.pid, "echo": echo.pid, "nats-server": nats},
                GATEWAY: {"gateway": stack.pid("gateway"), "mailer": stack.pid("mailer"), "nats-server": nats},
            }
            print_conditions(info)
            processes = [*stack.processes.values(), bare, echo]
            rows = await alternate(targets, args, processes, pids=pids)
            if args.profile:
                top = max(args.concurrency)
                work = http_load(targets[GATEWAY], concurrency=top, duration=args.profile, label="profiled")
                profiles, result = await py_spy_during(pids[GATEWAY], stack.logs, args.profile, work)
                print(f"  profiled run: C={top}, {result.rps:,.0f} req/s (py-spy slows the processes down)")
            warnings = {p.name: _warnings(p.log_file) for p in processes}
    print()
    print_conditions(info)
    print_each_run(rows)
    print_rounds_summary(rows, BARE)
    for name, lines in warnings.items():
        if lines:
            print(f"warnings in the {name} log:\n" + "\n".join("  " + x[:300] for x in lines) + "\n")
    print_profiles(profiles)
    save_results("health_latency", {"conditions": info, "runs": rows})
    raise_failed(rows)


def _warnings(path: Path) -> list[str]:
    """Warning and error lines of a process log (json lines), for the report."""
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [x for x in lines if '"level": "warning"' in x or '"level": "error"' in x or "Traceback" in x][:10]


if __name__ == "__main__":
    run_main(main)
