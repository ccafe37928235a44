"""GET /v1/clients over 100,000 clients against a bare endpoint running the same SQL."""

from __future__ import annotations

from sqlalchemy import text

from bench.client_list_parts import measure_parts
from bench.harness import BenchEnv, sized
from domain.db import make_engine

CLIENTS = sized(100_000, smallest=200)
REQUESTS = sized(1_000, smallest=8)
PART_REQUESTS = sized(300, smallest=5)
CONCURRENCY = 16
BENCH = "clients_list"


async def seed(env: BenchEnv, firm_id) -> None:
    """100,000 clients in one INSERT … SELECT (the API would take minutes; the list is what is measured)."""
    async with env.sessionmaker.begin() as session:
        await session.execute(text(
            "INSERT INTO clients (id, firm_id, account_number, client_type, name, email, status, "
            "identity_verification_status, created_at, updated_at) "
            "SELECT gen_random_uuid(), :firm, 'C-2026-' || lpad(n::text, 6, '0'), "
            "(ARRAY['individual','business','trust','nonprofit'])[1 + n % 4], "
            "(ARRAY['John','Mary','Ahmed','Li','Sofia','Kwame'])[1 + n % 6] || ' ' || "
            "(ARRAY['Smith','Garcia','Chen','Okafor','Novak','Patel','Kim'])[1 + n % 7] || ' ' || n, "
            "'client' || n || '@example.com', (ARRAY['active','active','active','inactive'])[1 + n % 4], "
            "'unverified', now() - make_interval(secs => n), now() "
            "FROM generate_series(1, :count) AS n"), {"firm": firm_id, "count": CLIENTS})
    await vacuum_as_owner(env, "clients")


async def vacuum_as_owner(env: BenchEnv, table: str) -> None:
    """What autovacuum does within a minute of a bulk import (`VACUUM (ANALYZE)`: statistics and the visibility
    map), done now so that neither side's figures carry that minute. Without fresh statistics the planner takes the
    firm for 114 rows and sorts all 75,000 matching rows for every page: 50 ms a page alone, 400 ms at 16
    concurrent, until autovacuum came by (sessions 24 to 26 measured that as the bare endpoint's "cold" phase).

    As the tables' owner: the app's role owns nothing (domain/db.py), and a VACUUM or ANALYZE by a role that does
    not own the table is a warning and a no-op, which is what the seed ran until session 27."""
    engine = make_engine(env.settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM: no transaction
            await autocommit.execute(text(f"VACUUM (ANALYZE) {table}"))
            vacuumed = (await autocommit.execute(text(
                "SELECT vacuum_count + autovacuum_count > 0 AND analyze_count + autoanalyze_count > 0 "
                "FROM pg_stat_user_tables WHERE relname = :table"), {"table": table})).scalar_one()
    finally:
        await engine.dispose()
    if not vacuumed:
        raise RuntimeError(f"VACUUM (ANALYZE) {table} did not run: the benchmark's figures would be the planner's")


async def run(env: BenchEnv) -> None:
    firm = await env.tp.new_firm("Benchmark firm")
    await seed(env, firm)
    admin = await env.tp.new_user(firm, "admin")
    headers = await env.tp.headers_for(admin)
    bare_url = env.spawn_uvicorn("bare", "bench.bare_app:create_app")

    first_page = "/v1/clients?limit=25&status=active&sort=-created_at"
    response = await env.http.get(first_page, headers=headers)
    response.raise_for_status()
    cursor = response.json()["pagination"]["cursor"]

    async def api_first_page(_):
        (await env.http.get(first_page, headers=headers)).raise_for_status()

    async def api_next_page(_):
        (await env.http.get(f"{first_page}&cursor={cursor}", headers=headers)).raise_for_status()

    async def api_search(_):
        (await env.http.get("/v1/clients?limit=25&search=mary%20gar", headers=headers)).raise_for_status()

    async def bare(_):
        (await env.http.get(f"{bare_url}/bare/clients", params={"firm": str(firm)})).raise_for_status()

    # Both sides warmed up first, not measured: connection pools, the statement caches, the estimate kept a minute.
    for warm_up in (bare, api_first_page):
        await env.measure(warm_up, CONCURRENCY, REQUESTS // 2)
    # CPU per request by process besides the wall-clock figures: the machine's speed drifts between phases, the
    # CPU an API request costs next to the bare one's much less.
    cpu = env.cpu_by_part()
    bare_stats = await env.measure(bare, CONCURRENCY, REQUESTS)
    bare_cpu = env.cpu_by_part()
    api_stats = await env.measure(api_first_page, CONCURRENCY, REQUESTS)
    api_cpu = env.cpu_by_part()
    next_stats = await env.measure(api_next_page, CONCURRENCY, REQUESTS)
    search_stats = await env.measure(api_search, CONCURRENCY, REQUESTS // 2)

    env.report(BENCH, "clients in table", CLIENTS, "rows")
    env.report_stats(BENCH, "bare SQL endpoint", bare_stats)
    env.report_stats(BENCH, "API first page (filter+sort)", api_stats)
    env.report_stats(BENCH, "API next page (cursor)", next_stats)
    env.report_stats(BENCH, "API search 'mary gar'", search_stats)
    env.report(BENCH, "ratio p50 API/bare", round(api_stats.p50_ms / bare_stats.p50_ms, 2), "x")
    env.report(BENCH, "ratio throughput bare/API", round(bare_stats.rps / api_stats.rps, 2), "x")
    env.report_cpu(BENCH, "bare SQL endpoint", cpu, bare_cpu, REQUESTS)
    env.report_cpu(BENCH, "API first page", bare_cpu, api_cpu, REQUESTS)

    # Where the first page's extra time goes (bench/client_list_parts.py): in this process, one at a time.
    parts = await measure_parts(env.settings, env.tp.state, first_page, headers, PART_REQUESTS)
    for part, (wall_ms, cpu_ms) in parts.items():
        if part == "statements per request":
            env.report(BENCH, "first page: statements per request", wall_ms, "statements")
            continue
        env.report(BENCH, f"first page part: {part} wall", wall_ms, "ms")
        env.report(BENCH, f"first page part: {part} CPU", cpu_ms, "ms")
