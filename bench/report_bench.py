"""The back-office reports over a year of sales for 100,000 meters, on PostgreSQL.

Issue 6: "Reports over a year of data for 100,000 meters must come back in under 2 s on
PostgreSQL". A fresh database (created and dropped here) is migrated to the head revision and
seeded in the database itself with ``INSERT ... SELECT generate_series`` (no row goes
through Python): 100,000 customers and meters in 4 supply groups, 1,000,000 vends spread
evenly over 2025 (one every 31.5 s; 1 in 97 a Free Basic claim, 1 in 10 with an FBE token,
1 in 20 recovering debt, 1 in 500 reversed, 3 in 10 paid through a payment) with receipts
shaped like the real ones (the ``breakdown`` JSON with its ``lines``, ``steps`` and
``debt_lines``), a payment per payment vend (1 in 1,000 with another amount), 1,000
paid-not-vended and 200 conflict payments, 5,000 maintenance requests and 10,000 audited
reprints. 2,000 meters never buy. Then ``VACUUM ANALYZE`` (what autovacuum keeps up in
production), and each report runs through the repository (``uow.reports``) over the whole year
and over one month, three times; the median is printed with the verdict against 2 s, next to
a baseline measured in the same run: ``SELECT count(*)`` of the vends of the same period.

The machine may be shared: compare the lines of one run, and run it more than once.
Run with ``.venv/bin/python bench/report_bench.py`` (PostgreSQL on 127.0.0.1:5432, or set
VENDGATE_BENCH_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from vending_core.adapters.db import create_engine
from vending_core.adapters.migrate import upgrade
from vending_core.adapters.sql import sql_uow_factory
from vending_core.service.ports import UnitOfWork

METERS: Final = 100_000
VENDS: Final = 1_000_000
RUNS: Final = 3
TARGET_S: Final = 2.0
YEAR: Final = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
MONTH: Final = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))

_SEED: Final = (
    """INSERT INTO supply_groups (sgc, name, key_ref, dkga, key_revision, base_date)
    SELECT s, 'Group ' || s, 'sgc-' || s, 4, 1, 2014
    FROM unnest(ARRAY['600727', '600728', '600729', '600730']) AS s""",
    f"""INSERT INTO customers (id, account_number, name, address, phones, language)
    SELECT g, 'ACC' || lpad(g::text, 7, '0'), 'Customer ' || g, 'Plot ' || g,
           '["+254700000000"]'::jsonb, 'en'
    FROM generate_series(1, {METERS}) AS g""",  # noqa: S608 - integer constants only
    f"""INSERT INTO meters (id, number, pan, utility, sgc, ti, krn, kt, ken, base_date, ea,
        dkga, tariff_code, customer_id, status, fbe_registered, month_tenths, charges_owing,
        installed_at)
    SELECT g, lpad(g::text, 11, '0'), '600727' || lpad(g::text, 12, '0'), 0,
           (ARRAY['600727', '600728', '600729', '600730'])[1 + g % 4], 1 + g % 3, 1, 2, 255,
           2014, 7, 4, 'RES', g, CASE WHEN g % 200 = 0 THEN 'blocked' ELSE 'active' END,
           g % 5 = 0, 0, 0, '2024-06-01T00:00:00Z'
    FROM generate_series(1, {METERS}) AS g""",  # noqa: S608 - integer constants only
    f"""INSERT INTO vends (id, client_id, request_id, kind, meter_id, meter_number, channel,
        vendor_code, operator, gross, commission, breakdown, tariff_code, tariff_version,
        status, created_at, reversed_at, reversal_reason, reversed_by)
    SELECT g, CASE WHEN paid THEN 'payment' ELSE 'pos:' || (g % 50) END,
           CASE WHEN paid THEN 'pay' || g ELSE 'r' || g END,
           CASE WHEN free THEN 'free_basic' ELSE 'credit' END,
           meter, lpad(meter::text, 11, '0'), channel,
           CASE WHEN channel = 'pos' THEN 'POS-' || (g % 50) END,
           CASE WHEN channel = 'pos' THEN 'op' || (g % 20) END,
           gross, gross / 100,
           jsonb_build_object(
               'gross', gross, 'energy_net', gross - vat - debt, 'energy_vat', vat,
               'fixed_net', 0, 'fixed_vat', 0, 'service_net', 0, 'service_vat', 0,
               'debt_lines', CASE WHEN debt > 0 THEN jsonb_build_array(jsonb_build_object(
                   'debt_id', 1 + meter % 5000, 'amount', debt, 'vat', 0,
                   'outstanding_after', 10000)) ELSE '[]'::jsonb END,
               'credit_tenths', (gross - vat - debt) / 16, 'fbe_tenths', fbe,
               'steps', jsonb_build_array(jsonb_build_object(
                   'tenths', (gross - vat - debt) / 16, 'rate', '160.00')),
               'residue', '0.0625', 'month', to_char(at, 'YYYY-MM'),
               'month_tenths_after', (gross - vat - debt) / 16 + fbe,
               'charged_up_to_after', NULL, 'charges_owing_after', 0,
               'tariff_code', 'RES', 'tariff_version', 1,
               'lines', jsonb_build_array(
                   jsonb_build_array('energy', gross - vat - debt),
                   jsonb_build_array('vat', vat), jsonb_build_array('fixed charges', 0),
                   jsonb_build_array('service charge', 0), jsonb_build_array('debt', debt)),
               'step_text', jsonb_build_array('12.3 kWh @ 160.00 c/kWh')),
           'RES', 1, CASE WHEN g % 500 = 0 THEN 'reversed' ELSE 'completed' END, at,
           CASE WHEN g % 500 = 0 THEN at + interval '1 hour' END,
           CASE WHEN g % 500 = 0 THEN 'wrong meter' END,
           CASE WHEN g % 500 = 0 THEN 'manager' || (g % 3) END
    FROM (
        SELECT g, at, paid, free, meter, gross,
               CASE WHEN paid THEN (ARRAY['ussd', 'sms', 'api'])[1 + g % 3] ELSE 'pos' END
                   AS channel,
               gross * 15 / 115 AS vat,
               CASE WHEN g % 20 = 0 AND NOT free THEN gross / 10 ELSE 0 END AS debt,
               CASE WHEN g % 10 = 0 OR free THEN 500 ELSE 0 END AS fbe
        FROM (
            SELECT g, timestamptz '2025-01-01 00:00:00+00' + g * interval '31.5 seconds' AS at,
                   g % 10 < 3 AND g % 97 <> 0 AS paid, g % 97 = 0 AS free,
                   1 + (g::bigint * 7919) % {METERS - 2000} AS meter,
                   CASE WHEN g % 97 = 0 THEN 0 ELSE 1000 + (g::bigint * 7919) % 49000 END
                       AS gross
            FROM generate_series(1, {VENDS}) AS g
        ) AS base
    ) AS priced""",  # noqa: S608 - integer constants only
    """UPDATE meters SET last_purchase_at = last.at
    FROM (SELECT meter_id, max(created_at) AS at FROM vends GROUP BY meter_id) AS last
    WHERE meters.id = last.meter_id""",
    """INSERT INTO payments (id, provider, provider_reference, msisdn, meter_number, amount,
        currency, channel, client_id, request_id, status, receipt, reason, vend_id,
        vend_attempts, raw, created_at, updated_at, expires_at)
    SELECT request_id, 'sandbox', 'ref' || id, '254700000000', meter_number,
           gross + CASE WHEN id % 1000 = 0 THEN 100 ELSE 0 END, 'KES', channel,
           'ussd', 'q' || id, 'vended', 'R' || id, '', id, 1, '{}'::jsonb,
           created_at - interval '20 seconds', created_at, created_at + interval '10 minutes'
    FROM vends WHERE client_id = 'payment'""",
    """INSERT INTO payments (id, provider, provider_reference, msisdn, meter_number, amount,
        currency, channel, client_id, request_id, status, receipt, reason, vend_id,
        vend_attempts, raw, created_at, updated_at, expires_at)
    SELECT 'open' || g, 'sandbox', 'open' || g, '254700000001', lpad((1 + g)::text, 11, '0'),
           2000, 'KES', 'ussd', 'ussd', 'open' || g,
           CASE WHEN g <= 1000 THEN 'paid' ELSE 'conflict' END, 'O' || g, '', NULL, 0,
           '{}'::jsonb, at, at, at + interval '10 minutes'
    FROM (SELECT g, timestamptz '2025-01-01 00:00:00+00' + g * interval '7 hours' AS at
          FROM generate_series(1, 1200) AS g) AS t""",
    """INSERT INTO maintenance_requests (meter_id, description, reported_by, opened_at, status,
        engineer, solution, resolved_at, extra)
    SELECT 1 + g * 17 % 100000, 'no power', 'call centre', at,
           CASE WHEN g % 5 = 0 THEN 'open' ELSE 'resolved' END, 'eng' || (g % 7),
           CASE WHEN g % 5 = 0 THEN NULL ELSE 'replaced breaker' END,
           CASE WHEN g % 5 = 0 THEN NULL ELSE at + interval '2 days' END, '{}'::jsonb
    FROM (SELECT g, timestamptz '2025-01-01 00:00:00+00' + g * interval '105 minutes' AS at
          FROM generate_series(1, 5000) AS g) AS t""",
    """INSERT INTO admin_users (id, username, level, password_hash, status, failed_logins,
        allowed_ips, created_at)
    SELECT g, 'user' || g, 1, 'x', 'active', 0, '', '2024-12-01T00:00:00Z'
    FROM generate_series(1, 10) AS g""",
    """INSERT INTO audit_log (at, user_id, remote, action, entity, entity_id, before, after)
    SELECT timestamptz '2025-01-01 00:00:00+00' + g * interval '52 minutes', 1 + g % 10,
           '10.0.0.1', 'pos.reprint', 'meter', lpad(g::text, 11, '0'), NULL,
           '{"vend_ids": [1, 2]}'::jsonb
    FROM generate_series(1, 10000) AS g""",
)
_COUNT_TABLES: Final = ("meters", "vends", "payments", "maintenance_requests", "audit_log")

Report = Callable[[UnitOfWork, datetime, datetime], Awaitable[Any]]
_COUNT: Final = text("SELECT count(*) FROM vends WHERE created_at >= :start AND created_at < :end")


def _reports() -> dict[str, Report]:
    idle_since = YEAR[1] - timedelta(days=60)
    return {
        "vending by day": lambda uow, a, b: uow.reports.vending(a, b, "day"),
        "vending by month": lambda uow, a, b: uow.reports.vending(a, b, "month"),
        "vending by vendor": lambda uow, a, b: uow.reports.vending(a, b, "vendor"),
        "vending by sgc (join meters)": lambda uow, a, b: uow.reports.vending(a, b, "sgc"),
        "free issue by day": lambda uow, a, b: uow.reports.free_issue(a, b, "day"),
        "debt recovery by debt": lambda uow, a, b: uow.reports.debt_recovery(a, b, "debt"),
        "debt recovery by month": lambda uow, a, b: uow.reports.debt_recovery(a, b, "month"),
        "reversals by operator": lambda uow, a, b: uow.reports.reversals(a, b, "operator"),
        "reprints by day": lambda uow, a, b: uow.reports.reprints(a, b, "day"),
        "maintenance by status": lambda uow, a, b: uow.reports.maintenance(a, b, "status"),
        "reconciliation by day": lambda uow, a, b: uow.reports.reconciliation(a, b, "day"),
        "idle meters (60 days, 1,000 rows)": lambda uow, a, b: uow.reports.idle_meters(
            idle_since, limit=1000, offset=0
        ),
        "abnormal customers (60 days idle, 1,000 rows)": (
            lambda uow, a, b: uow.reports.abnormal_meters(
                YEAR[1], idle_since, below=0, limit=1000, offset=0
            )
        ),
        "abnormal customers (and below 50 %)": lambda uow, a, b: uow.reports.abnormal_meters(
            YEAR[1], idle_since, below=50, limit=1000, offset=0
        ),
    }


async def _baseline(engine: AsyncEngine, start: datetime, end: datetime) -> Any:
    """The same period's vends counted: what reading the period costs at the least."""
    async with engine.connect() as connection:
        result = await connection.execute(_COUNT, {"start": start, "end": end})
        return result.scalar_one()


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for sql in _SEED:
            began = time.perf_counter()
            await connection.exec_driver_sql(sql)
            label = " ".join(sql.split()[:3])
            print(f"  {label}: {time.perf_counter() - began:6.1f} s")
    async with engine.connect() as connection:
        auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
        began = time.perf_counter()
        await auto.exec_driver_sql("VACUUM ANALYZE")
        print(f"  VACUUM ANALYZE: {time.perf_counter() - began:6.1f} s")
        counts = []
        for table in _COUNT_TABLES:
            result = await auto.exec_driver_sql(f"SELECT count(*) FROM {table}")  # noqa: S608
            counts.append(f"{result.scalar_one():,} {table}")
        print("  rows: " + ", ".join(counts))


async def _median(run: Callable[[], Awaitable[Any]]) -> float:
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        await run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


async def _time(engine: AsyncEngine, report: Report, start: datetime, end: datetime) -> float:
    new_uow = sql_uow_factory(engine)

    async def run() -> None:
        async with new_uow() as uow:
            await report(uow, start, end)

    return await _median(run)


def _line(name: str, year: float, month: float) -> None:
    verdict = "met" if year < TARGET_S else "NOT met"
    print(f"  {name:<38} {year * 1e3:7.0f}ms {month * 1e3:7.0f}ms  {verdict}")


async def _bench(url: str) -> None:
    began = time.perf_counter()
    await upgrade(url)
    engine = create_engine(url, pool_size=2)
    try:
        print(f"seeding {METERS:,} meters and {VENDS:,} vends (a year) in the database:")
        await _seed(engine)
        print(f"  seeded in {time.perf_counter() - began:.0f} s")
        print(f"median of {RUNS} runs through uow.reports, target {TARGET_S:.0f} s")
        print(f"  {'report':<38} {'year':>9} {'month':>9}  verdict (year)")
        baseline = []
        for start, end in (YEAR, MONTH):
            baseline.append(await _median(partial(_baseline, engine, start, end)))
        _line("baseline: count(*) of the vends", *baseline)
        for name, report in _reports().items():
            _line(name, await _time(engine, report, *YEAR), await _time(engine, report, *MONTH))
    finally:
        await engine.dispose()


def _postgres_url() -> str | None:
    url = os.environ.get("VENDGATE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    return url


async def main() -> None:
    """Create a database, seed it, time the reports, drop it."""
    server = _postgres_url()
    if server is None:
        print("PostgreSQL: not reachable on 127.0.0.1:5432, skipped")
        return
    print(f"{os.cpu_count()} cpus")
    name = f"vendgate_report_bench_{os.getpid()}"
    admin = create_engine(f"{server}/postgres", pool_size=1)
    try:
        async with admin.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql(f'CREATE DATABASE "{name}"')
        await _bench(f"{server}/{name}")
    finally:
        async with admin.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
