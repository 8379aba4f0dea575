"""The espace candidat's pages: server time of the dossier and candidature pages at 20 concurrent
users, beside a bare aiohttp page in the same run, and the weight of a first load (issue 12).

What is measured and how: bench/README.md, "web_pages".

Exit status 1 when the run is broken (an answer other than 200, a process that died). Every request
goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ALL_SERVICES, api, bare_server, BrokenRun, conditions, cpu_delta  # noqa: E402
from bench._common import create_candidates, LOCALHOST, percentile, platform, print_conditions  # noqa: E402
from bench._common import print_profiles, print_table, py_spy_during, run_main, save_results, Stack  # noqa: E402
from bench._common import wait_listening  # noqa: E402

API = "/api/v1"
USERS = 20
THINK = 1.0  # seconds a person spends on a page before the next click, on average
TARGET_P95_MS = 50.0


async def load(url_of, cookies: list[dict[str, str]], duration: float, label: str, think: float = 0.0) -> dict:
    """`len(cookies)` workers, each its own candidate, asking `url_of(i)` for `duration` seconds;
    with `think`, each one reads its page for a while (exponential, `think` s on average) before
    asking the next, as a person does, and starts somewhere in its reading (not all 20 at the same
    instant, which would be a burst); without, each asks again at once (the servers' saturation)."""
    import aiohttp

    latencies: list[float] = []
    bad: dict[str, int] = {}
    sizes: list[int] = []
    perf = time.perf_counter
    connector = aiohttp.TCPConnector(limit=len(cookies))

    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=30)
    ) as http:
        deadline = perf() + duration

        async def worker(i: int) -> None:
            url = url_of(i)
            assert url.startswith(f"http://{LOCALHOST}:")
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies[i].items()), "Accept": "text/html"}
            if think:  # people reading do not all click at the same instant: each is somewhere in its page
                await asyncio.sleep(min(random.expovariate(1 / think), duration))
            while perf() < deadline:
                started = perf()
                try:
                    async with http.get(url, headers=headers, allow_redirects=False) as resp:
                        body = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    bad[type(exc).__name__] = bad.get(type(exc).__name__, 0) + 1
                    continue
                if status == 200:
                    latencies.append(perf() - started)
                    sizes.append(len(body))
                else:
                    bad[str(status)] = bad.get(str(status), 0) + 1
                if think:
                    await asyncio.sleep(
                        min(random.expovariate(1 / think), deadline - perf() if deadline > perf() else 0)
                    )

        started, wall = perf(), time.time()
        await asyncio.gather(*(worker(i) for i in range(len(cookies))))
        elapsed = perf() - started
    if bad:
        raise BrokenRun(f"{label}: answers other than 200: {bad}")
    latencies.sort()
    return {
        "label": label,
        "think": think,
        "from": wall,
        "to": wall + elapsed,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 50) * 1000,
        "p95": percentile(latencies, 95) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "bytes": sum(sizes) // max(1, len(sizes)),
    }


async def cost(stack: Stack, url_of, cookies: list[dict[str, str]], label: str, count: int = 40) -> dict:
    """What one page costs, from `count` pages asked one after the other (nothing else running):
    the API calls the gateway answered for it (its access log), the rpc requests on the bus (a
    subscription to `rpc.>`), and the CPU each process used (from /proc), per page."""
    import json

    import aiohttp
    import nats

    rpc: dict[str, int] = {}
    nc = await nats.connect(stack.nats_url, name="bench-rpc-counter")

    async def counted(msg) -> None:
        rpc[msg.subject] = rpc.get(msg.subject, 0) + 1

    await nc.subscribe("rpc.>", cb=counted)
    await nc.flush()
    access_log = stack.logs / "gateway.log"
    offset = access_log.stat().st_size
    before = await stack.cpu()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for n in range(count):
            i = n % len(cookies)
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies[i].items()), "Accept": "text/html"}
            async with http.get(url_of(i), headers=headers, allow_redirects=False) as resp:
                await resp.read()
                if resp.status != 200:
                    raise BrokenRun(f"{label}: {resp.status}")
    await nc.flush()
    await asyncio.sleep(0.2)  # the last access-log lines
    used = cpu_delta(before, await stack.cpu())
    await nc.close()
    routes: dict[str, int] = {}
    with access_log.open("rb") as lines:
        lines.seek(offset)
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("logger") == "gateway.access" and str(entry.get("path", "")).startswith("/api/"):
                routes[entry["route"]] = routes.get(entry["route"], 0) + 1
    return {
        "label": label,
        "pages": count,
        "api_calls": {k: v / count for k, v in sorted(routes.items())},
        "rpc": {k: v / count for k, v in sorted(rpc.items())},
        "cpu_ms": {k: v * 1000 / count for k, v in used.items() if k != "bench"},
    }


async def page_weight(base: str, cookie: dict[str, str], path: str) -> dict[str, int]:
    """Bytes transferred on a first load (empty cache) by Chromium, by kind of resource."""
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

    kinds = {"document": "HTML", "stylesheet": "CSS", "script": "JS", "font": "fonts", "image": "images"}
    totals = {kind: 0 for kind in (*kinds.values(), "other")}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = await browser.new_context()
        await context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookie.items()])
        page = await context.new_page()
        requests = []
        page.on("requestfinished", lambda request: requests.append(request))
        await page.goto(base + path, wait_until="networkidle")
        for request in requests:
            sizes = await request.sizes()
            kind = kinds.get(request.resource_type, "other")
            totals[kind] += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        await browser.close()
    return totals


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 users, 1 round of 2 s per page")
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        metavar="SECONDS",
        help="then ask the candidature page at saturation for SECONDS under py-spy "
        "(web, gateway, services; .venv/bin/pip install py-spy)",
    )
    args = parser.parse_args()
    rounds, seconds = (1, 2.0) if args.quick else (3, 15.0)
    users = 5 if args.quick else USERS
    info = conditions(users=users, rounds=rounds, seconds_per_phase=seconds)
    async with platform("web_pages", ALL_SERVICES, info, web=True) as stack:
        import aiohttp

        bare, bare_port = bare_server(stack.logs)
        with bare:
            wait_listening(bare_port, bare)
            async with aiohttp.ClientSession() as http:
                candidates = await create_candidates(stack, http, users, "pages")
                apply, path, candidatures = {"formation_code": "DU-MUSICO"}, f"{API}/candidatures", []
                for c in candidates:
                    _, view = await api(http, stack, "POST", path, token=c.token, json_body=apply, expect=(201,))
                    candidatures.append(view["id"])
                for candidate, cid in zip(candidates, candidatures):  # the slots come with an event
                    for _ in range(200):
                        async with http.get(
                            f"{stack.base}{API}/candidatures/{cid}/pieces", headers=candidate.auth
                        ) as resp:
                            if resp.status == 200:
                                break
                        await asyncio.sleep(0.05)
                # A browser keeps the CSRF cookie its first page set, and sends it with the next pages.
                cookies = []
                for candidate in candidates:
                    async with http.get(
                        f"{stack.base}/dossier",
                        headers={"Accept": "text/html"},
                        cookies={"ecandidat_session": candidate.token},
                    ) as resp:
                        await resp.read()
                        csrf = resp.cookies.get("ecandidat_csrf")
                    if resp.status != 200 or csrf is None:
                        raise BrokenRun(f"first page: {resp.status}, CSRF cookie {'set' if csrf else 'missing'}")
                    cookies.append({"ecandidat_session": candidate.token, "ecandidat_csrf": csrf.value})
            direct = stack.web_url
            sample = await load(lambda i: f"{stack.base}/candidatures/{candidatures[i]}", cookies[:1], 1.0, "warm-up")
            urls = {
                "bare aiohttp page": lambda i: f"http://{LOCALHOST}:{bare_port}/body/{sample['bytes']}",
                "dossier page (gateway → web → API)": lambda i: f"{stack.base}/dossier",
                "candidature page (gateway → web → API)": lambda i: f"{stack.base}/candidatures/{candidatures[i]}",
                "dossier page, web process directly": lambda i: f"{direct}/dossier",
            }
            phases = {(name, think): url for name, url in urls.items() for think in (THINK, 0.0)}
            results: dict[tuple[str, float], list[dict]] = {key: [] for key in phases}
            for round_ in range(rounds):
                order = list(phases) if round_ % 2 == 0 else list(reversed(phases))
                for name, think in order:
                    results[name, think].append(await load(phases[name, think], cookies, seconds, name, think))
                stack.check()
            costs = [await cost(stack, urls[name], cookies, name) for name in urls if "page (" in name]
            profiles: dict[str, Path] = {}
            if args.profile:
                pids = {name: p.pid for name, p in stack.processes.items() if name != "mailer"}
                page = urls["candidature page (gateway → web → API)"]
                work = load(page, cookies, args.profile, "profiled")
                profiles, _ = await py_spy_during(pids, stack.logs, args.profile, work, rate=250)
            weight = await page_weight(stack.base, cookies[0], f"/candidatures/{candidatures[0]}")
    print_conditions(info)
    for think, title in (
        (
            THINK,
            f"GET pages, {users} users reading them (each its own session, {THINK:g} s on a page on average): "
            f"server time, target p95 < {TARGET_P95_MS:g} ms",
        ),
        (0.0, f"GET pages, {users} users asking again at once (the servers' saturation: throughput)"),
    ):
        bare_p95 = min(r["p95"] for r in results["bare aiohttp page", think])
        rows = []
        for name in urls:
            runs = results[name, think]
            best = min(runs, key=lambda r: r["p95"])
            cells = [f"{best['rps']:.0f}", *(f"{best[k]:.1f}" for k in ("p50", "p95", "p99"))]
            cells += [f"{best['p95'] / bare_p95:.1f}×", f"{best['bytes'] / 1024:.1f} KB"]
            rows.append([name, *cells, " / ".join(f"{r['p95']:.0f}" for r in runs)])
        print_table(
            f"{title}; {seconds:g} s per phase, best round by p95",
            ["page", "req/s", "p50 ms", "p95 ms", "p99 ms", "p95 ÷ bare", "page size", "p95 of each round"],
            rows,
        )
    names = sorted({k for c in costs for k in c["cpu_ms"]}, key=lambda k: (k != "gateway", k != "web", k))
    print_table(
        "What one page costs (40 pages asked one after the other): API calls, rpc requests, CPU ms per page",
        ["page", "API calls", "rpc", *names],
        [
            [
                c["label"].split(" (")[0],
                f"{sum(c['api_calls'].values()):g}",
                f"{sum(c['rpc'].values()):g}",
                *(f"{c['cpu_ms'].get(n, 0):.1f}" for n in names),
            ]
            for c in costs
        ],
    )
    for c in costs:
        calls = {kind: ", ".join(f"{k} ×{v:g}" for k, v in c[kind].items()) for kind in ("api_calls", "rpc")}
        print(f"  {c['label']}: API {calls['api_calls']}; rpc {calls['rpc']}")
    print()
    print_profiles(profiles, ", candidature page at saturation")
    kb = {
        k: f"{v / 1024:.1f} KB"
        for k, v in (weight | {"HTML + CSS + JS": sum(weight[k] for k in ("HTML", "CSS", "JS"))}).items()
    }
    columns = ["HTML", "CSS", "JS", "HTML + CSS + JS", "fonts", "images", "other"]
    print_table(
        "First load of the candidature page in Chromium (empty cache), bytes transferred",
        columns,
        [[kb[k] for k in columns]],
    )
    save_results(
        "web_pages",
        {
            "conditions": info,
            "weight": weight,
            "costs": costs,
            "results": {f"{name} (think {think:g} s)": runs for (name, think), runs in results.items()},
        },
    )


if __name__ == "__main__":
    run_main(main)
