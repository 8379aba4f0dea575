"""The espace gestion's list page of a formation holding 100,000 candidatures: server time of the
page, beside a bare aiohttp page of the same size in the same run (issue 13).

What is measured and how: bench/README.md, "staff_pages".

Exit status 1 when the run is broken (an answer other than 200, a page without its rows or its
counts, a process that died). Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments, bare_server, BrokenRun, Call, conditions, LoadResult, LOCALHOST  # noqa: E402
from bench._common import median, platform, print_conditions, print_table, ratio, request_load, run_main  # noqa: E402
from bench._common import save_results, staff_session, wait_listening  # noqa: E402
from bench.staff_list import FORMATION, ROWS, _Recording, bulk_load, summarize_plan  # noqa: E402

TARGET_P95_MS = 100.0
CENTRE = "FC-DIPL"  # FORMATION's centre, beside the demo's other formations
PAGES = {
    "list page, first page": f"/personnel/candidatures?formation_code={FORMATION}",
    "list page, réceptionné, sort=nom": f"/personnel/candidatures?formation_code={FORMATION}&statut=receptionne&sort=nom",
    "home page, every centre's dashboard": "/personnel",
}
APIS = {
    "API list (50 rows), first page": f"/api/v1/staff/candidatures?formation_code={FORMATION}",
    "API counts per statut": f"/api/v1/staff/candidatures/comptes?formation_code={FORMATION}",
    "API dashboard of the formation's centre": f"/api/v1/staff/candidatures/tableau?centre_code={CENTRE}",
}


def parse_args() -> argparse.Namespace:
    sized = {"pages": (150, 10), "rounds": (3, 2), "rows": (ROWS, 5_000)}
    parser = Arguments(__doc__, "smoke run: 5,000 rows, 10 pages per variant, 2 rounds", **sized)
    parser.add_argument("--pages", type=int, help="requests per variant, round and concurrency (default 150, quick 10)")
    parser.add_argument("--rounds", type=int, help="default 3, quick 2")
    parser.add_argument("--rows", type=int, help=f"candidatures loaded (default {ROWS:,}, quick 5,000)")
    return parser.parse_args()


def check_page(name: str, path: str, body: bytes) -> None:
    text = body.decode("utf-8", "replace")
    if path == "/personnel":
        if f'data-formation="{FORMATION}"' not in text or 'data-statut="receptionne"' not in text:
            raise BrokenRun(f"{name}: the dashboard misses {FORMATION} or its counts: {text[:300]!r}")
        return
    rows = text.count('name="ids"')
    if rows != 50 or 'data-count="receptionne"' not in text:
        raise BrokenRun(f"{name}: {rows} rows, counts {'shown' if 'data-count' in text else 'missing'}: {text[:300]!r}")


async def timed(base: str, path: str, headers: dict[str, str] | None, count: int, concurrency: int, label: str) -> Any:
    """`count` GETs of `path`, `concurrency` at a time: the result and the size of the last answer."""
    result, answers = await request_load(
        base, [Call("GET", path, headers=headers)] * count, concurrency=concurrency, label=label
    )
    if result.failed:
        raise BrokenRun(f"{label}: {result.failed} failed: {result.failure_samples[:2]}")
    if path.startswith("/personnel/"):
        check_page(label, path, answers[-1].body)
    return result, len(answers[-1].body)


async def explain_counts(stack: Any) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the counts query as the service builds it, for an administrator."""
    import asyncpg

    from ecandidat.contracts import candidatures as c
    from ecandidat.contracts.auth import Principal
    from services.candidatures import listing

    admin = Principal(realm="staff", account_id=uuid.uuid4(), email="bench@univ.example", roles=("admin",))
    conn = await asyncpg.connect(stack.db.url, server_settings={"search_path": "candidatures"})
    try:
        recording = _Recording(conn)
        asked = c.CountCandidatures(principal=admin, filters=c.Filters(formation_code=FORMATION))
        await listing.count_candidatures(recording, asked)  # type: ignore[arg-type]
        lines = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + recording.sql, *recording.args)]
        counted = (
            "SELECT CASE WHEN c.cancelled_at IS NOT NULL THEN 'annulee' ELSE c.statut END AS statut, count(*) AS n"
            " FROM candidatures c JOIN formations f ON f.code = c.formation_code WHERE c.formation_code = $1 GROUP BY 1"
        )
        before = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + counted, FORMATION)]
    finally:
        await conn.close()
    kept = {"sql": recording.sql, "plan": lines, **summarize_plan(lines)}
    return kept | {"counted": {"sql": counted, "plan": before, **summarize_plan(before)}}


async def main() -> None:
    import aiohttp

    args = parse_args()
    info = conditions(
        mode="quick" if args.quick else "full",
        rows=f"{args.rows:,}",
        rounds=args.rounds,
        requests=f"{args.pages} per variant, round and concurrency",
    )
    rounds: list[dict[tuple[str, int], tuple[LoadResult, LoadResult]]] = []
    async with platform("staff_pages", ("accounts", "candidatures"), info, s3=False, smtp=False, web=True) as stack:
        bare, bare_port = bare_server(stack.logs)
        with bare:
            wait_listening(bare_port, bare)
            bare_base = f"http://{LOCALHOST}:{bare_port}"
            loaded = await bulk_load(stack, args.rows, vacuum=True)
            info["fixture"] = (
                f"{loaded['total']:,} candidatures ({loaded['size']} with indexes); {FORMATION}: "
                + ", ".join(f"{k} {v:,}" for k, v in loaded["by_statut"].items())
            )
            async with aiohttp.ClientSession() as http:
                token = await staff_session(stack, http)
                first = f"{stack.base}{PAGES['list page, first page']}"
                async with http.get(first, allow_redirects=False, cookies={"ecandidat_session": token}) as resp:
                    body = await resp.read()
                    csrf = resp.cookies.get("ecandidat_csrf")
                if resp.status != 200 or csrf is None:
                    raise BrokenRun(f"first page: {resp.status} {body[:300]!r}")
            page_headers = {"Cookie": f"ecandidat_session={token}; ecandidat_csrf={csrf.value}", "Accept": "text/html"}
            api_headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            targets = {
                **{name: (path, page_headers) for name, path in PAGES.items()},
                **{name: (path, api_headers) for name, path in APIS.items()},
            }
            sizes = {}
            for name, (path, headers) in targets.items():  # warm-up: caches, prepared statements, code paths
                sizes[name] = (await timed(stack.base, path, headers, 5, 1, name))[1]
            print_conditions(info)
            for rnd in range(args.rounds):
                results = {}
                for (name, (path, headers)), concurrency in itertools.product(targets.items(), (1, 4)):
                    pair = [(stack.base, path, headers, name), (bare_base, f"/body/{sizes[name]}", None, "bare")]
                    runs = {
                        label: (await timed(base, p, h, args.pages, concurrency, label))[0]
                        for base, p, h, label in pair[:: -1 if rnd % 2 else 1]
                    }
                    t, b = results[name, concurrency] = runs[name], runs["bare"]
                    print(
                        f"  round {rnd + 1} C={concurrency} {name:<34} p50 {t.ms(50):7.1f} p95 {t.ms(95):7.1f} ms"
                        f" | bare p95 {b.ms(95):5.1f} ms",
                        flush=True,
                    )
                rounds.append(results)
                stack.check()
            plan = await explain_counts(stack)
    report(info, rounds, sizes, plan)


def report(info: dict[str, Any], rounds: list, sizes: dict[str, int], plan: dict[str, Any]) -> None:
    print()
    print_conditions(info)
    rows = []
    for name, concurrency in rounds[0]:
        runs = [r[name, concurrency] for r in rounds]
        p50, p95 = (median([t.ms(q) for t, _ in runs]) for q in (50, 95))
        each = " / ".join(f"{t.ms(95):.0f}" for t, _ in runs)
        bare = [median([b.ms(95) for _, b in runs]), median([ratio(t.ms(95), b.ms(95)) for t, b in runs])]
        rows.append([name, concurrency, f"{sizes[name] / 1024:.1f} KB", p50, p95, each, *bare])
    print_table(
        f"GET, median of {len(rounds)} rounds (target: the list page p95 < {TARGET_P95_MS:g} ms); bare = the "
        "bare aiohttp page of the same size, same client, same count",
        ["target", "C", "size", "p50 ms", "p95 ms", "p95 of each round", "bare p95 ms", "p95 ratio"],
        rows,
    )
    for what, shown in (
        ("the service's query (the counts kept by the trigger)", plan),
        ("the same counts counted from the candidatures (what a filtered list does)", plan["counted"]),
    ):
        print(f"counts per statut, {what}: EXPLAIN (ANALYZE, BUFFERS), {shown['execution_ms']:.1f} ms")
        print("  " + re.sub(r"\s+", " ", shown["sql"]))
        for line in shown["plan"]:
            print("  " + line[:170])
    print()
    runs = [
        {f"{n} (C={c})": {"page": t.summary(), "bare": b.summary()} for (n, c), (t, b) in r.items()} for r in rounds
    ]
    save_results("staff_pages", {"conditions": info, "sizes": sizes, "counts_plan": plan, "rounds": runs})


if __name__ == "__main__":
    run_main(main)
