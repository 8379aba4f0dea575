"""`GET /health` through gateway → NATS → mailer, beside a bare aiohttp JSON endpoint.

What is measured: the gateway (`python -m gateway`, GATEWAY_SERVICES=mailer) answers `/health` by
asking the mailer (`python -m services.mailer`) over NATS request/reply (`rpc.mailer.health`); the
mailer runs its checks — a PostgreSQL query (outbox backlog), a JetStream `account_info`, and its
SMTP and S3 checks (each cached 5 s) — and the gateway aggregates the answer. Both run as their own
processes, as in production, against a nats-server, a database, an S3 server (moto) and an SMTP
sink (a thread of this process) of the bench's own.

Baselines, measured in the same run with the same load client, interleaved round by round (the
order alternates): `bare aiohttp` — an aiohttp app without middleware answering a fixed JSON body
of about the same size (`bench/_common.py bare`, its own process); `bare + NATS echo` — the same
app answering after one plain NATS request/reply to an echo process (`bench/_common.py echo`): the
floor of any gateway → service call, without the kit's rpc layer, the gateway's middlewares or
the mailer's checks.

Load client: aiohttp in this process, C concurrent workers on kept-alive connections, each sending
its next request when the previous answer is read, for a fixed duration. Latency: request sent →
body read. req/s counts 200 answers only; any other answer or error makes the run broken. The CPU
each server process used during a run (from /proc) is reported per request.

    .venv/bin/python bench/health_latency.py                # ~2 min
    .venv/bin/python bench/health_latency.py --quick        # < 60 s
    .venv/bin/python bench/health_latency.py --profile 8    # + py-spy of gateway and mailer

Exit status: 0 when the run measured what it claims (whatever the ratio), 1 when it is broken
(a non-200 answer, a client error, a process that died).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    wait_healthy,
    BrokenRun,
    LoadResult,
    Process,
    bare_server,
    conditions,
    database,
    echo_server,
    free_port,
    http_load,
    logs_dir,
    median,
    nats_server,
    print_conditions,
    print_table,
    proc_cpu_seconds,
    ratio,
    run_main,
    save_results,
    start_py_spy,
    summarize_collapsed,
    wait_listening,
    workdir,
)

from ecandidat.devstack.infra import S3Server, SmtpSink  # noqa: E402


BARE = "bare aiohttp"
BARE_RPC = "bare + NATS echo"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="GET /health through gateway → NATS → mailer beside bare aiohttp")
    parser.add_argument("--quick", action="store_true", help="short run, < 60 s")
    parser.add_argument("--concurrency", default="1,16", help="client concurrency levels (default 1,16)")
    parser.add_argument("--duration", type=float, help="seconds per measurement (default 6, quick 2)")
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
    args.duration = args.duration or (2.0 if args.quick else 6.0)
    if args.warmup is None:
        args.warmup = 0.5 if args.quick else 1.0
    args.rounds = args.rounds or (2 if args.quick else 3)
    return args


async def measure(
    label: str, url: str, concurrency: int, duration: float, processes: dict[str, int]
) -> tuple[LoadResult, dict[str, float]]:
    """One load run; also the CPU seconds each server process used during it."""
    before = {name: proc_cpu_seconds(pid) for name, pid in processes.items()}
    result = await http_load(url, concurrency=concurrency, duration=duration, label=label)
    cpu = {name: proc_cpu_seconds(pid) - before[name] for name, pid in processes.items()}
    return result, cpu


async def main() -> None:
    args = parse_args()
    info = conditions(
        mode="quick" if args.quick else "full",
        concurrency=",".join(map(str, args.concurrency)),
        **{"seconds per run": args.duration, "rounds": args.rounds},
    )
    results: list[dict[str, Any]] = []
    profiles: dict[str, Path] = {}
    logs = logs_dir("health_latency")
    info["logs"] = str(logs.relative_to(Path.cwd()) if logs.is_relative_to(Path.cwd()) else logs)
    with (
        workdir("health") as folder,
        nats_server(folder, logs) as ns,
        S3Server(data_dir=folder / "s3", log_file=logs / "moto.log") as s3,
        SmtpSink(maildir=folder / "maildir") as smtp,
    ):
        async with database(folder) as db:
            info["database"] = db.where
            info["postgresql"] = ", ".join(f"{k}={v}" for k, v in db.settings.items())
            info["processes"] = (
                "gateway and mailer: `python -m gateway`, `python -m services.mailer` (own processes, "
                "LOG_LEVEL=INFO, json logs to files); bare aiohttp and NATS echo: own processes; "
                "load client and SMTP sink: this process"
            )
            gateway_port = free_port()
            env = dict(os.environ)
            env.update(
                ECANDIDAT_ENV="development",  # the bench's own open bus and the development sealing key
                DATABASE_URL=db.url,
                NATS_URL=ns.url,
                SMTP_HOST=smtp.host,
                SMTP_PORT=str(smtp.port),
                SMTP_SECURITY="none",
                S3_ENDPOINT=s3.endpoint,
                S3_ACCESS_KEY=s3.access_key,
                S3_SECRET_KEY=s3.secret_key,
                GATEWAY_HOST="127.0.0.1",
                GATEWAY_PORT=str(gateway_port),
                GATEWAY_SERVICES="mailer",
                GATEWAY_HEALTH_SHARED_FOR="0",  # every request goes through NATS to the mailer
                LOG_FORMAT="json",
                LOG_LEVEL="INFO",
            )
            bare, bare_port = bare_server(logs, ns.url)
            echo = echo_server(logs, ns.url)
            mailer = Process("mailer", [sys.executable, "-m", "services.mailer"], logs / "mailer.log", env)
            gateway = Process("gateway", [sys.executable, "-m", "gateway"], logs / "gateway.log", env)
            with mailer, gateway, bare, echo:
                wait_listening(gateway_port, gateway)
                wait_listening(bare_port, bare)
                gateway_url = f"http://127.0.0.1:{gateway_port}/health"
                bare_url = f"http://127.0.0.1:{bare_port}/health"
                await wait_healthy(gateway_url, [mailer, gateway])
                print_conditions(info)
                echo_url = f"http://127.0.0.1:{bare_port}/rpc"
                await wait_healthy(echo_url, [bare, echo])
                targets = {BARE: bare_url, BARE_RPC: echo_url, "gateway /health": gateway_url}
                pids = {
                    BARE: {"server": bare.pid},
                    BARE_RPC: {"server": bare.pid, "echo": echo.pid, "nats-server": ns.process.pid},
                    "gateway /health": {"gateway": gateway.pid, "mailer": mailer.pid, "nats-server": ns.process.pid},
                }
                top = max(args.concurrency)
                for label, url in targets.items():  # warm-up, not reported
                    await http_load(url, concurrency=top, duration=args.warmup, label=label)
                for concurrency in args.concurrency:
                    for rnd in range(1, args.rounds + 1):
                        order = list(targets.items())
                        if rnd % 2 == 0:
                            order.reverse()  # alternate the order so drift does not favour one target
                        for label, url in order:
                            result, cpu = await measure(label, url, concurrency, args.duration, pids[label])
                            row = result.summary() | {"round": rnd, "server_cpu_s": cpu}
                            results.append(row)
                            print(
                                f"  C={concurrency:<3} round {rnd}: {label:<16} {result.rps:>8,.0f} req/s  "
                                f"p50 {result.ms(50):6.2f} ms  p99 {result.ms(99):7.2f} ms  failed {result.failed}",
                                flush=True,
                            )
                        for process in (mailer, gateway, bare, echo):
                            process.check()
                if args.profile:
                    profiles = await profile(
                        gateway_url,
                        max(args.concurrency),
                        args.profile,
                        logs,
                        {"gateway": gateway.pid, "mailer": mailer.pid},
                    )
                log_tails = {p.name: _warnings(p.log_file) for p in (mailer, gateway, bare)}  # before stopping them
    report(info, args, results, log_tails, profiles)


async def profile(url: str, concurrency: int, seconds: float, logs: Path, pids: dict[str, int]) -> dict[str, Path]:
    """Sample the gateway and the mailer with py-spy during one more load run on `url`."""
    outputs = {name: logs / f"py-spy-{name}.txt" for name in pids}
    spies = [start_py_spy(pid, outputs[name], seconds + 1) for name, pid in pids.items()]
    await asyncio.sleep(0.5)
    result = await http_load(url, concurrency=concurrency, duration=seconds, label="profiled")
    for spy in spies:
        _, err = await asyncio.to_thread(spy.communicate)
        if spy.returncode:
            raise BrokenRun(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
    print(f"  profiled run: C={concurrency}, {result.rps:,.0f} req/s (py-spy slows the processes down)")
    return outputs


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
    args: argparse.Namespace,
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
        rows.append(
            [
                r["concurrency"],
                r["round"],
                r["label"],
                r["rps"],
                r["p50_ms"],
                r["p90_ms"],
                r["p99_ms"],
                r["max_ms"],
                r["failed"],
                r["client_cpu_s"] / ok * 1e6,
                cpu,
            ]
        )
    print_table(
        "each run",
        [
            "C",
            "round",
            "target",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "failed",
            "client CPU µs/req",
            "server CPU µs/req",
        ],
        rows,
    )
    summary = []
    labels = list(dict.fromkeys(r["label"] for r in results))
    for concurrency in args.concurrency:
        by_round: dict[int, dict[str, dict[str, Any]]] = {}
        for r in results:
            if r["concurrency"] == concurrency:
                by_round.setdefault(r["round"], {})[r["label"]] = r
        for label in labels:
            rs = [p[label] for p in by_round.values()]

            def paired(key: str) -> float | None:
                if label == BARE:
                    return None
                return median([ratio(p[label][key], p[BARE][key]) for p in by_round.values()])

            summary.append(
                [
                    concurrency,
                    label,
                    median([r["rps"] for r in rs]),
                    median([r["p50_ms"] for r in rs]),
                    median([r["p99_ms"] for r in rs]),
                    paired("rps"),
                    paired("p50_ms"),
                    paired("p99_ms"),
                ]
            )
    print_table(
        "summary (median over rounds; ratios target / bare aiohttp, paired by round)",
        ["C", "target", "req/s", "p50 ms", "p99 ms", "req/s ratio", "p50 ratio", "p99 ratio"],
        summary,
    )
    for name, lines in log_tails.items():
        if lines:
            print(f"warnings in the {name} log:")
            for line in lines:
                print("  " + line[:300])
            print()
    for name, output in profiles.items():
        total, by_own, by_inclusive = summarize_collapsed(output)
        print_table(
            f"py-spy, {name}: top functions by own samples ({total} samples, {output})",
            ["function", "samples", "share"],
            [[f, n, f"{n / max(1, total):.1%}"] for f, n in by_own],
        )
        print_table(
            f"py-spy, {name}: top functions by inclusive samples",
            ["function", "samples", "share"],
            [[f, n, f"{n / max(1, total):.1%}"] for f, n in by_inclusive],
        )
    path = save_results("health_latency", {"conditions": info, "runs": results})
    print(f"raw results: {path}")
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
