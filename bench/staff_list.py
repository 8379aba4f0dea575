"""The staff list of a formation holding 100,000 candidatures: latency per page (issue 7 b).

What is measured and how: bench/README.md, "staff_list".

Exit status 1 when the run is broken (an answer other than 200, a page that is not sorted or
filtered as asked, a row seen twice in a walk, a process that died); slow pages are reported.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Arguments  # noqa: E402
from bench._common import API, bare_server, Call, conditions, LoadResult, median, NOMS  # noqa: E402
from bench._common import percentile, platform, PRENOMS, print_conditions, print_profiles, print_table  # noqa: E402
from bench._common import py_spy_during, ratio, request_load, ROOT, run_main, save_results, Stack  # noqa: E402
from bench._common import staff_session, wait_listening  # noqa: E402

FORMATION = "DU-MUSICO"
ROWS = 100_000

# name → query parameters (besides formation_code and limit)
VARIANTS: dict[str, dict[str, str]] = {
    "date de réception (default)": {},
    "statut=incomplet": {"statut": "incomplet"},
    "statut=complet": {"statut": "complet"},
    "liste complémentaire, sort=rang": {"decision": "liste_complementaire", "sort": "rang"},
    "decisions à valider": {"decision": "a_valider"},
    "sort=nom": {"sort": "nom"},
    "sort=nom, statut=complet": {"sort": "nom", "statut": "complet"},
}


def parse_args() -> argparse.Namespace:
    sized = {"pages": (200, 10), "nom_pages": (50, 4), "rounds": (3, 2), "rows": (ROWS, 5_000)}
    parser = Arguments(__doc__, "smoke run: 5,000 rows, 10 pages per variant (4 by name), 2 rounds", **sized)
    parser.add_argument("--pages", type=int, help="pages walked per variant and round (default 200, quick 10)")
    parser.add_argument("--nom-pages", type=int, help="pages for the sort=nom variants (default 50, quick 4)")
    parser.add_argument("--profile", action="store_true", help="then the default variant under py-spy")
    parser.add_argument("--rounds", type=int, help="rounds over every variant and the baseline (default 3, quick 2)")
    parser.add_argument("--rows", type=int, help=f"candidatures loaded (default {ROWS:,}, quick 5,000)")
    return parser.parse_args()


# -- the fixture: COPY into the candidatures service's own tables -------------------------------------


CANDIDATURE_COLUMNS = (
    "id account_id numero_dossier formation_code centre_code campagne_code statut statut_date type_traitement "
    "type_traitement_valide decision date_retour_individuelle date_reception created_at cancelled_at version "
    "decision_id decision_validated_at rang_lc confirmation_deadline pieces_total pieces_ready pieces_refused nom prenom"
).split()
DECISION_COLUMNS = (
    "id candidature_id kind motif rang preselection_date preselection_heure preselection_lieu commentaire "
    "entered_by entered_at validated_by validated_at automatic"
).split()
GESTION = "gestion@univ.example"


def _record(columns: list[str], **values: Any) -> tuple[Any, ...]:
    return tuple(values.get(c) for c in columns)


def fixture_rows(
    rng: random.Random, rows: int, formation: Any, campagne: str, start: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(candidatures, candidats, decisions) records of `rows` candidatures of FORMATION over 28 days:
    a quarter en attente (some cancelled), then receptionne, incomplet, complet with or without a decision."""
    candidatures, candidats, decisions = [], [], []
    rang = 0
    for _ in range(rows):
        cid, account = uuid.uuid4(), uuid.uuid4()
        numero = "26" + "".join(rng.choices(string.digits + string.ascii_uppercase, k=6))
        created = start + timedelta(seconds=rng.uniform(0, 28 * 86400))
        r = rng.random()
        c: dict[str, Any] = {"statut": "en_attente", "pieces_ready": rng.randint(0, 4), "pieces_refused": 0}
        if r < 0.25:
            if rng.random() < 0.12:
                c["cancelled_at"] = created + timedelta(hours=rng.uniform(1, 200))
        else:
            reception = c["date_reception"] = created + timedelta(seconds=rng.uniform(600, 5 * 86400))
            c["pieces_ready"] = 4
            if r < 0.60:
                c["statut"] = "receptionne"
            elif r < 0.70:
                c.update(statut="incomplet", pieces_ready=3, pieces_refused=1)
            else:
                c["statut"] = "complet"
                d = rng.random()
                if d < 0.60:
                    kinds = ["favorable", "defavorable", "liste_complementaire", "liste_attente"]
                    kind = rng.choices(kinds, [35, 30, 25, 10])[0]
                    entered = reception + timedelta(days=rng.uniform(1, 10))
                    validated = entered + timedelta(hours=rng.uniform(1, 48))
                    c.update(decision=kind, decision_id=uuid.uuid4(), decision_validated_at=validated)
                    if kind == "liste_complementaire":
                        rang += 1
                        c["rang_lc"] = rang
                    if kind == "favorable":
                        c["confirmation_deadline"] = validated + timedelta(days=10)
                    motif = "Dossier insuffisant" if kind == "defavorable" else None
                    decision = dict(kind=kind, motif=motif, rang=c.get("rang_lc"), validated_at=validated)
                    decision.update(id=c["decision_id"], entered_by=GESTION, entered_at=entered, validated_by=GESTION)
                    decisions.append(_record(DECISION_COLUMNS, candidature_id=cid, automatic=False, **decision))
                elif d < 0.70:  # entered, waiting for validation: the list shows it as decision_en_attente
                    entered, by = reception + timedelta(days=3), "commission@univ.example"
                    decision = dict(id=uuid.uuid4(), kind="favorable", entered_by=by, entered_at=entered)
                    decisions.append(_record(DECISION_COLUMNS, candidature_id=cid, automatic=False, **decision))
        nom = NOMS[rng.randrange(len(NOMS))]
        if rng.random() < 0.3:
            nom = f"{nom}-{NOMS[rng.randrange(len(NOMS))]}"
        nom = nom.upper() if rng.random() < 0.2 else nom
        prenom = PRENOMS[rng.randrange(len(PRENOMS))]
        c.update(id=cid, account_id=account, numero_dossier=numero, formation_code=FORMATION, nom=nom, prenom=prenom)
        c.update(
            centre_code=formation["centre_code"], campagne_code=campagne, type_traitement=formation["type_traitement"]
        )
        c.update(statut_date=c.get("date_reception") or created, type_traitement_valide=rng.random() < 0.5)
        c.update(created_at=created, version=1 + ("date_reception" in c) + ("decision" in c), pieces_total=4)
        candidatures.append(_record(CANDIDATURE_COLUMNS, **c))
        candidats.append((account, numero, nom, prenom, f"{prenom.lower()}.{numero.lower()}@example.org"))
    return candidatures, candidats, decisions


async def bulk_load(stack: Stack, rows: int, seed: int = 2026, vacuum: bool = False) -> dict[str, Any]:
    """COPY `rows` candidatures of FORMATION (with their candidats and decisions), then ANALYZE (with
    `vacuum`, VACUUM ANALYZE: what autovacuum does after such an insert, so that index-only scans
    find the pages all-visible)."""
    import asyncpg

    conn = await asyncpg.connect(stack.db.url, server_settings={"search_path": "candidatures"})
    try:
        formation = await conn.fetchrow("SELECT * FROM formations WHERE code = $1", FORMATION)
        campagne = await conn.fetchval("SELECT code FROM campagnes WHERE en_service")
        before = await conn.fetchval("SELECT count(*) FROM candidatures")
        start = datetime.now(timezone.utc) - timedelta(days=30)
        candidatures, candidats, decisions = fixture_rows(random.Random(seed), rows, formation, campagne, start)
        started = time.monotonic()
        async with conn.transaction():
            for table, records, columns in (
                ("candidats", candidats, None),
                ("candidatures", candidatures, CANDIDATURE_COLUMNS),
                ("decisions", decisions, DECISION_COLUMNS),
            ):
                await conn.copy_records_to_table(table, records=records, columns=columns, schema_name="candidatures")
        copied = time.monotonic() - started
        await conn.execute("ANALYZE candidatures; ANALYZE candidats; ANALYZE decisions")
        if vacuum:
            for table in ("candidatures", "statut_counts", "suivi_counts"):
                await conn.execute(f"VACUUM ANALYZE {table}")
        counts = await conn.fetch(
            "SELECT statut, cancelled_at IS NOT NULL AS annulee, count(*) FROM candidatures "
            "WHERE formation_code = $1 GROUP BY 1, 2 ORDER BY 1, 2",
            FORMATION,
        )
        total = await conn.fetchval("SELECT count(*) FROM candidatures")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('candidatures'))")
    finally:
        await conn.close()
    return {
        "copied_s": copied,
        "before": before,
        "total": total,
        "decisions": len(decisions),
        "size": size,
        "by_statut": {("annulee" if r["annulee"] else r["statut"]): r["count"] for r in counts},
    }


# -- the walks ------------------------------------------------------------------------------------------


@dataclass
class Walk:
    variant: str
    latencies: list[float] = field(default_factory=list)  # seconds per page
    sizes: list[int] = field(default_factory=list)
    cursors: list[str] = field(default_factory=list)  # the cursor that fetched page i (None for the first)
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    def ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


NEVER = datetime.min.replace(tzinfo=timezone.utc)


def _sort_key(variant: dict[str, str], item: dict[str, Any]) -> tuple | None:
    """The row's sort key as the service orders it; None for `nom`, whose order is the database's
    collation (accents, hyphens), which Python's comparison does not reproduce."""
    sort = variant.get("sort", "date_reception")
    if sort == "nom":
        return None
    if sort == "rang":
        return (item["rang"] if item["rang"] is not None else 2**31 - 1, uuid.UUID(item["id"]))
    received = (
        datetime.fromisoformat(item["date_reception"].replace("Z", "+00:00")) if item["date_reception"] else NEVER
    )
    return (received, uuid.UUID(item["id"]))


async def walk(http: Any, stack: Stack, token: str, name: str, pages: int) -> Walk:
    """Page through a variant; check each page is filtered and ordered as asked, and no row repeats."""
    variant = VARIANTS[name]
    params = {"formation_code": FORMATION, "limit": "50", **variant}
    result, seen, cursor, previous_key = Walk(name), set[str](), None, None
    descending = variant.get("sort", "date_reception") == "date_reception"
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(pages):
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        started = time.perf_counter()
        async with http.get(f"{stack.base}{API}/staff/candidatures?{urlencode(query)}", headers=headers) as resp:
            raw = await resp.read()
            status = resp.status
        result.latencies.append(time.perf_counter() - started)
        if status != 200:
            result.problems.append(f"{name}: {status} {raw[:300]!r}")
            break
        result.sizes.append(len(raw))
        result.cursors.append(cursor)
        page = json.loads(raw)
        for item in page["items"]:
            if item["id"] in seen:
                result.problems.append(f"{name}: row {item['id']} seen twice")
            seen.add(item["id"])
            for asked in ("statut", "decision"):
                if asked in variant and item[asked] != variant[asked] and variant[asked] != "a_valider":
                    result.problems.append(f"{name}: a row with {asked} {item[asked]}")
            if variant.get("decision") == "a_valider" and item["decision_en_attente"] is None:
                result.problems.append(f"{name}: a row without a decision to validate")
            key = _sort_key(variant, item)
            if None not in (key, previous_key) and (key > previous_key if descending else key < previous_key):
                result.problems.append(f"{name}: out of order at {item['id']}")
            previous_key = key
        result.rows += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return result


async def bare_walk(base: str, count: int, size: int) -> LoadResult:
    result, _ = await request_load(base, [Call("GET", f"/body/{size}")] * count, concurrency=1, label=f"bare {size} B")
    return result


# -- EXPLAIN, with the service's own SQL ----------------------------------------------------------------


class _Recording:
    """Stands for the service's deps and its pool: runs the listing's queries on `conn`, keeping the last one."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.pool = self
        self.sql: str = ""
        self.args: tuple = ()

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.conn.fetchval(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> Any:
        self.sql, self.args = sql, args
        return await self.conn.fetch(sql, *args)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator["_Recording"]:
        yield self


async def explain(stack: Stack, walks: dict[str, Walk], deep_page: int) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each variant's query, first page and page `deep_page` (its cursor
    from the walk), plus the plan PostgreSQL would use as a generic plan (prepared statement reuse)."""
    import asyncpg

    from ecandidat.contracts import candidatures as c
    from ecandidat.contracts.auth import Principal
    from services.candidatures import listing

    admin = Principal(realm="staff", account_id=uuid.uuid4(), email="bench@univ.example", roles=("admin",))
    conn = await asyncpg.connect(stack.db.url, server_settings={"search_path": "candidatures"})
    plans = []
    try:
        for name, w in walks.items():
            params = VARIANTS[name]
            filters = c.Filters(formation_code=FORMATION, statut=params.get("statut"), decision=params.get("decision"))
            deep = min(deep_page, len(w.cursors)) - 1
            for label, cursor in (("page 1", None), (f"page {deep + 1}", w.cursors[deep] if deep > 0 else None)):
                if label != "page 1" and cursor is None:
                    continue
                recording = _Recording(conn)
                req = c.ListCandidatures(
                    principal=admin, filters=filters, sort=params.get("sort", "date_reception"), cursor=cursor, limit=50
                )
                await listing.list_candidatures(recording, req)  # type: ignore[arg-type]
                lines = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + recording.sql, *recording.args)]
                await conn.execute("SET plan_cache_mode = force_generic_plan")
                generic = [r[0] for r in await conn.fetch("EXPLAIN " + recording.sql, *recording.args)]
                await conn.execute("RESET plan_cache_mode")
                plan = {"variant": name, "page": label, "sql": recording.sql, "plan": lines, "generic": generic}
                generic_sort = any("Sort" in line and "Key" not in line for line in generic)
                plans.append(
                    plan | summarize_plan(lines) | {"generic_indexes": _indexes(generic), "generic_sort": generic_sort}
                )
    finally:
        await conn.close()
    return plans


def _indexes(lines: list[str]) -> list[str]:
    found = []
    for line in lines:
        m = re.search(r"(Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)", line)
        if m and m.group(2) not in found:
            found.append(m.group(2))
        m = re.search(r"Seq Scan on (\w+)", line)
        if m and f"seq:{m.group(1)}" not in found:
            found.append(f"seq:{m.group(1)}")
    return found


def summarize_plan(lines: list[str]) -> dict[str, Any]:
    text = "\n".join(lines)
    execution = re.search(r"Execution Time: ([\d.]+) ms", text)
    sort = re.search(r"Sort Method: ([^\n]+)", text)
    removed = sum(int(x) for x in re.findall(r"Rows Removed by Filter: (\d+)", text))
    shared = re.findall(r"shared hit=(\d+)(?: read=(\d+))?", text)
    buffers = (f"{shared[0][0]} hit" + (f", {shared[0][1]} read" if shared[0][1] else "")) if shared else "-"
    return {
        "execution_ms": float(execution.group(1)) if execution else float("nan"),
        "indexes": _indexes(lines),
        "sort": sort.group(1).strip() if sort else "-",
        "removed_by_filter": removed,
        "buffers": buffers,
    }


# -- main ------------------------------------------------------------------------------------------------


async def main() -> list[str]:
    import aiohttp

    args = parse_args()
    info = conditions(
        mode="quick" if args.quick else "full",
        rows=f"{args.rows:,}",
        pages=f"{args.pages} per walk ({args.nom_pages} for sort=nom: every page re-sorts the formation)",
        rounds=args.rounds,
    )
    rounds: list[dict[str, tuple[Walk, LoadResult]]] = []
    profiles: dict[str, Path] = {}
    async with platform("staff_list", ("accounts", "candidatures"), info, s3=False, smtp=False) as stack:
        bare, bare_port = bare_server(stack.logs)
        with bare:
            wait_listening(bare_port, bare)
            bare_base = f"http://127.0.0.1:{bare_port}"
            loaded = await bulk_load(stack, args.rows)
            info["fixture"] = (
                f"{loaded['total']:,} candidatures ({loaded['size']} with indexes), {loaded['decisions']:,} "
                f"decisions, COPY in {loaded['copied_s']:.1f} s then ANALYZE; {FORMATION}: "
                + ", ".join(f"{k} {v:,}" for k, v in loaded["by_statut"].items())
            )
            async with aiohttp.ClientSession() as http:
                token = await staff_session(stack, http)
                for name in VARIANTS:  # warm-up: caches, prepared statements, the service's code paths
                    await walk(http, stack, token, name, 3)
                await bare_walk(bare_base, 10, 30000)
                print_conditions(info)
                for rnd in range(args.rounds):
                    results: dict[str, tuple[Walk, LoadResult]] = {}
                    for name in VARIANTS:
                        pages = args.nom_pages if "sort=nom" in name else args.pages
                        if rnd % 2 == 0:
                            w = await walk(http, stack, token, name, pages)
                            b = await bare_walk(bare_base, len(w.latencies), int(median(w.sizes or [0])))
                        else:
                            size = int(median(rounds[0][name][0].sizes or [0]))
                            b = await bare_walk(bare_base, len(rounds[0][name][0].latencies), size)
                            w = await walk(http, stack, token, name, pages)
                        results[name] = (w, b)
                        print(
                            f"  round {rnd + 1} {name:<33} {len(w.latencies):>4} pages  p50 {w.ms(50):7.1f} ms  "
                            f"p95 {w.ms(95):7.1f} ms  max {w.ms(100):7.1f} ms | bare p95 {b.ms(95):5.1f} ms",
                            flush=True,
                        )
                    rounds.append(results)
                    stack.check()
                if args.profile:

                    async def walk_for(seconds: float) -> int:
                        deadline, walked = time.monotonic() + seconds, 0
                        while time.monotonic() < deadline:
                            walked += len((await walk(http, stack, token, "date de réception (default)", 40)).latencies)
                        return walked

                    pids = {n: stack.pid(n) for n in ("gateway", "accounts", "candidatures")}
                    profiles, walked = await py_spy_during(pids, stack.logs, 14, walk_for(12), rate=250)
                    info["profile"] = f"{walked} pages of the default variant walked under py-spy"
            plans = await explain(stack, {n: w for n, (w, _) in rounds[0].items()}, min(100, args.pages))
    return report(info, rounds, plans, stack.logs, profiles)[:5]


def report(
    info: dict[str, Any],
    rounds: list[dict[str, tuple[Walk, LoadResult]]],
    plans: list[dict[str, Any]],
    logs: Path,
    profiles: dict[str, Path],
) -> list[str]:
    print()
    print_conditions(info)
    rows = [
        [rnd, name, len(w.latencies), w.rows, int(median(w.sizes or [0])), *(w.ms(q) for q in (50, 95, 99, 100))]
        + [b.ms(50), b.ms(95), ratio(w.ms(95), b.ms(95))]
        for rnd, results in enumerate(rounds, 1)
        for name, (w, b) in results.items()
    ]
    print_table(
        "each walk: pages of 50 followed by cursor, one after the other; bare = GET /body/<median page size>, "
        "as many requests",
        "round|variant|pages|rows|bytes/page|p50 ms|p95 ms|p99 ms|max ms|bare p50|bare p95|p95 ratio".split("|"),
        rows,
    )
    summary = [
        [name, *(median([r[name][0].ms(q) for r in rounds]) for q in (50, 95, 99))]
        + [
            median([r[name][1].ms(95) for r in rounds]),
            median([ratio(w.ms(95), b.ms(95)) for w, b in (r[name] for r in rounds)]),
        ]
        for name in VARIANTS
    ]
    print_table(
        f"summary per variant: median of {len(rounds)} rounds; ratio paired by round",
        ["variant", "p50 ms", "p95 ms", "p99 ms", "bare p95 ms", "p95 ratio"],
        summary,
    )
    columns = (
        "variant|page|exec ms|indexes (custom)|sort|rows removed by filter|buffers|indexes (generic)|generic sorts"
    )
    print_table(
        "EXPLAIN (ANALYZE, BUFFERS) of the service's query (custom plan), and the generic plan's indexes",
        columns.split("|"),
        [
            [
                p["variant"],
                p["page"],
                p["execution_ms"],
                ", ".join(p["indexes"]) or "-",
                p["sort"],
                p["removed_by_filter"],
            ]
            + [p["buffers"], ", ".join(p["generic_indexes"]) or "-", "yes" if p["generic_sort"] else "no"]
            for p in plans
        ],
    )
    plan_file = logs / "explain.txt"
    with plan_file.open("w") as out:
        for p in plans:
            out.write(f"== {p['variant']}, {p['page']}\n{p['sql']}\n-- custom plan (EXPLAIN ANALYZE):\n")
            out.write("\n".join(p["plan"]) + "\n-- generic plan:\n" + "\n".join(p["generic"]) + "\n\n")
    for p in plans:
        if p["page"] == "page 1" and p["variant"] in ("date de réception (default)", "sort=nom"):
            print(f"plan, {p['variant']}, {p['page']}:")
            for line in p["plan"]:
                print("  " + line[:160])
            print()
    print(f"every plan (custom and generic) with its SQL: {plan_file.relative_to(ROOT)}\n")
    print_profiles(profiles, ", default variant")
    walks = [
        {"round": i, "variant": n, "pages": len(w.latencies), "rows": w.rows, "sizes": w.sizes}
        | {"latencies_ms": [x * 1000 for x in w.latencies], "bare": b.summary()}
        for i, r in enumerate(rounds, 1)
        for n, (w, b) in r.items()
    ]
    save_results("staff_list", {"conditions": info, "walks": walks, "plans": plans})
    problems = [p for r in rounds for w, b in r.values() for p in w.problems]
    problems += [f"bare: {b.failed} failed" for r in rounds for _, b in r.values() if b.failed]
    return problems


if __name__ == "__main__":
    run_main(main)
