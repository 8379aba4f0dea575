"""The espace candidat's pages: server time of the dossier, candidature and adresse pages at 20
concurrent users, beside a bare aiohttp page in the same run, and the weight of a first load (issue 12).

What is measured and how: bench/README.md, "web_pages".

Exit status 1 when the run is broken (an answer other than 200, a process that died). Every request
goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ALL_SERVICES, API, api, Arguments, bare_server, BrokenRun, conditions  # noqa: E402
from bench._common import cpu_delta, create_candidates, http_load, LoadResult, LOCALHOST, platform  # noqa: E402
from bench._common import print_conditions, print_profiles, print_table, py_spy_during, run_main  # noqa: E402
from bench._common import save_results, Stack, wait_listening  # noqa: E402
from ecandidat.runtime.nats import flush  # noqa: E402

USERS = 20
THINK = 1.0  # seconds a person spends on a page before the next click, on average
TARGET_P95_MS = 50.0


async def load(urls: list[str], headers: list[dict[str, str]], seconds: float, label: str, think: float) -> LoadResult:
    """One worker per candidate, request k being candidate k's (round robin) for `seconds`; with
    `think`, as people reading (see http_load), else asking again at once (the servers' saturation)."""
    result = await http_load(
        urls, headers=headers, concurrency=len(headers), duration=seconds, think=think, timeout=30, label=label
    )
    if result.failed:
        raise BrokenRun(f"{label}: answers other than 200: {result.statuses} {result.errors}")
    return result


async def cost(stack: Stack, urls: list[str], headers: list[dict[str, str]], label: str, count: int = 40) -> dict:
    """What one page costs, from `count` pages asked one after the other (nothing else running):
    the API calls the gateway answered for it (its access log), the rpc requests on the bus (a
    subscription to `rpc.>`), and the CPU each process used (from /proc), per page."""
    import nats

    rpc: Counter[str] = Counter()
    nc = await nats.connect(stack.nats_url, name="bench-rpc-counter")

    async def counted(msg: Any) -> None:
        rpc[msg.subject] += 1

    await nc.subscribe("rpc.>", cb=counted)
    await flush(nc)
    access_log = stack.logs / "gateway.log"
    offset = access_log.stat().st_size
    before = await stack.cpu()
    result = await http_load(urls, headers=headers, concurrency=1, count=count, label=label)
    if result.failed:
        raise BrokenRun(f"{label}: {result.statuses} {result.errors}")
    await nc.flush()
    await asyncio.sleep(0.2)  # the last access-log lines
    used = cpu_delta(before, await stack.cpu())
    await nc.close()
    with access_log.open("rb") as lines:
        lines.seek(offset)
        logged = [json.loads(line) for line in lines if line.startswith(b"{") and line.endswith(b"}\n")]  # whole lines
    routes = Counter(
        e["route"] for e in logged if e.get("logger") == "gateway.access" and e["path"].startswith("/api/")
    )
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
        requests: list[Any] = []
        page.on("requestfinished", lambda request: requests.append(request))
        await page.goto(base + path, wait_until="networkidle")
        for request in requests:
            sizes = await request.sizes()
            totals[kinds.get(request.resource_type, "other")] += (
                sizes["responseBodySize"] + sizes["responseHeadersSize"]
            )
        await browser.close()
    return totals


async def candidates_browsing(stack: Stack, users: int) -> tuple[list[str], list[dict[str, str]]]:
    """`users` candidates, each applied to DU-MUSICO (its pieces' slots made), each with the cookies
    a browser keeps after a first page (session and CSRF): the candidatures' ids, the cookies."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        candidates = await create_candidates(stack, http, users, "pages")
        apply, candidatures, cookies = {"formation_code": "DU-MUSICO"}, [], []
        for c in candidates:
            _, view = await api(
                http, stack, "POST", f"{API}/candidatures", token=c.token, json_body=apply, expect=(201,)
            )
            candidatures.append(view["id"])
        for candidate, cid in zip(candidates, candidatures):  # the slots come with an event
            for _ in range(200):
                async with http.get(f"{stack.base}{API}/candidatures/{cid}/pieces", headers=candidate.auth) as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.05)
            session = {"ecandidat_session": candidate.token}
            async with http.get(f"{stack.base}/dossier", headers={"Accept": "text/html"}, cookies=session) as resp:
                await resp.read()
                csrf = resp.cookies.get("ecandidat_csrf")
            if resp.status != 200 or csrf is None:
                raise BrokenRun(f"first page: {resp.status}, CSRF cookie {'set' if csrf else 'missing'}")
            cookies.append(session | {"ecandidat_csrf": csrf.value})
    return candidatures, cookies


async def main(args: Any) -> None:
    rounds, seconds = (1, 2.0) if args.quick else (3, 15.0)
    users = 5 if args.quick else USERS
    info = conditions(users=users, rounds=rounds, seconds_per_phase=seconds)
    async with platform("web_pages", ALL_SERVICES, info, web=True) as stack:
        bare, bare_port = bare_server(stack.logs)
        with bare:
            wait_listening(bare_port, bare)
            candidatures, cookies = await candidates_browsing(stack, users)
            headers = [{"Cookie": "; ".join(f"{k}={v}" for k, v in c.items()), "Accept": "text/html"} for c in cookies]
            pages = [f"{stack.base}/candidatures/{cid}" for cid in candidatures]
            sample = await load(pages[:1], headers[:1], 1.0, "warm-up", 0.0)
            urls = {
                "bare aiohttp page": [f"http://{LOCALHOST}:{bare_port}/body/{int(sample.size)}"],
                "dossier page (gateway → web → API)": [f"{stack.base}/dossier"],
                "candidature page (gateway → web → API)": pages,
                "adresse page (gateway → web → API)": [f"{stack.base}/dossier/adresse"],
                "dossier page, web process directly": [f"{stack.web_url}/dossier"],
            }
            phases = [(name, think) for name in urls for think in (THINK, 0.0)]
            results: dict[tuple[str, float], list[LoadResult]] = {key: [] for key in phases}
            for round_ in range(rounds):
                for name, think in phases[:: -1 if round_ % 2 else 1]:
                    results[name, think].append(await load(urls[name], headers, seconds, name, think))
                stack.check()
            costs = [await cost(stack, urls[name], headers, name) for name in urls if "page (" in name]
            profiles: dict[str, Path] = {}
            if args.profile:
                pids = {name: p.pid for name, p in stack.processes.items() if name != "mailer"}
                work = load(pages, headers, args.profile, "profiled", 0.0)
                profiles, _ = await py_spy_during(pids, stack.logs, args.profile, work, rate=250)
            weight = await page_weight(stack.base, cookies[0], f"/candidatures/{candidatures[0]}")
    print_conditions(info)
    for think, title in (
        (THINK, f"{users} users reading them (each its own session, {THINK:g} s on a page on average): server time, "),
        (0.0, f"{users} users asking again at once (the servers' saturation: throughput)"),
    ):
        bare_p95 = min(r.ms(95) for r in results["bare aiohttp page", think])
        rows = []
        for name in urls:
            runs = results[name, think]
            best = min(runs, key=lambda r: r.ms(95))
            cells = [f"{best.rps:.0f}", *(f"{best.ms(q):.1f}" for q in (50, 95, 99)), f"{best.ms(95) / bare_p95:.1f}×"]
            rows.append([name, *cells, f"{best.size / 1024:.1f} KB", " / ".join(f"{r.ms(95):.0f}" for r in runs)])
        target = f"target p95 < {TARGET_P95_MS:g} ms" if think else ""
        print_table(
            f"GET pages, {title}{target}; {seconds:g} s per phase, best round by p95",
            ["page", "req/s", "p50 ms", "p95 ms", "p99 ms", "p95 ÷ bare", "page size", "p95 of each round"],
            rows,
        )
    names = sorted({k for c in costs for k in c["cpu_ms"]}, key=lambda k: (k != "gateway", k != "web", k))
    print_table(
        "What one page costs (40 pages asked one after the other): API calls, rpc requests, CPU ms per page",
        ["page", "API calls", "rpc", *names],
        [
            [c["label"].split(" (")[0], f"{sum(c['api_calls'].values()):g}", f"{sum(c['rpc'].values()):g}"]
            + [f"{c['cpu_ms'].get(n, 0):.1f}" for n in names]
            for c in costs
        ],
    )
    for c in costs:
        calls = {kind: ", ".join(f"{k} ×{v:g}" for k, v in c[kind].items()) for kind in ("api_calls", "rpc")}
        print(f"  {c['label']}: API {calls['api_calls']}; rpc {calls['rpc']}")
    print()
    print_profiles(profiles, ", candidature page at saturation")
    weight["HTML + CSS + JS"] = sum(weight[k] for k in ("HTML", "CSS", "JS"))
    columns = ["HTML", "CSS", "JS", "HTML + CSS + JS", "fonts", "images", "other"]
    print_table(
        "First load of the candidature page in Chromium (empty cache), bytes transferred",
        columns,
        [[f"{weight[k] / 1024:.1f} KB" for k in columns]],
    )
    runs = {f"{name} (think {think:g} s)": [r.summary() for r in runs] for (name, think), runs in results.items()}
    save_results("web_pages", {"conditions": info, "weight": weight, "costs": costs, "results": runs})


if __name__ == "__main__":
    parser = Arguments(__doc__, "smoke run: 5 users, 1 round of 2 s per page")
    profile = "then ask the candidature page at saturation for SECONDS under py-spy (web, gateway, services)"
    parser.add_argument("--profile", type=float, default=0, metavar="SECONDS", help=profile)
    arguments = parser.parse_args()
    run_main(lambda: main(arguments))
