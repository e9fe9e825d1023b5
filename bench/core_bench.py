"""Completed vends per second through the service layer, on SQLite and PostgreSQL.

For each database: a fresh schema with one supply group and 500 meters, then
``vend_credit`` calls for a fixed time, first one at a time, then from 32 concurrent
tasks (each on its own meter, as real traffic spreads over meters). Prints vends per
second and where a vend's time goes: token generation (TID, amount, STA encryption)
and pricing, both measured in this run on their own, and the database and
orchestration that make up the rest.

SQLite runs three times: with the default ``synchronous=FULL`` (every commit fsynced)
and group commit (vending_core.adapters.groupcommit: concurrent vends share a COMMIT);
the same with one COMMIT per vend (``max_batch=1``), the baseline that shows what group
commit buys, measured in the same run; and with ``synchronous=NORMAL``, which is NOT
the default: durable through a process crash, not through power loss (the last commits
can be lost; see vending_core.adapters.db). PostgreSQL is used when reachable on
127.0.0.1:5432 (set VENDGATE_BENCH_POSTGRES_URL to override); a temporary database is
created and dropped.

The machine may be shared: compare the lines of one run, and run it more than once.

Run with ``make bench`` or ``.venv/bin/python bench/core_bench.py``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sts
from vending_core.adapters.db import SqliteSynchronous, create_engine
from vending_core.adapters.groupcommit import MAX_BATCH
from vending_core.adapters.keystore import EncryptedKeyStore
from vending_core.adapters.migrate import upgrade
from vending_core.adapters.sql import sql_uow_factory
from vending_core.domain.model import Block, Customer, Meter, SupplyGroup, Tariff
from vending_core.domain.pricing import PurchaseInput, price_purchase
from vending_core.domain.tids import allocate_tids
from vending_core.service.core import Core, RequestContext, key_ref_for
from vending_core.service.demo_data import drn
from vending_core.service.vending import vend_credit

SECONDS = 3.0
CONCURRENCY = 32
METERS = 500
TARGETS = {"SQLite": 500, "PostgreSQL": 300}
FULL = "SQLite FULL, group commit (default)"
ONE_BY_ONE = "SQLite FULL, one COMMIT per vend (baseline)"
NORMAL = "SQLite NORMAL, not power-loss safe"
KEK = secrets.token_bytes(32)
VENDING_KEY = bytes.fromhex("ABABABABABABABAB949494949494949401234567")
SGC = "201457"
TARIFF = Tariff(
    code="FLAT",
    version=1,
    name="Flat",
    utility=sts.Utility.ELECTRICITY,
    blocks=(Block(up_to_tenths=None, rate=Decimal(200)),),
    max_purchase=10_000_000,
)


async def _seed(core: Core) -> list[str]:
    await core.keys.store(key_ref_for(SGC, 1), VENDING_KEY)
    numbers = [drn(n) for n in range(1, METERS + 1)]
    async with core.uow() as uow:
        await uow.supply_groups.add(
            SupplyGroup(
                sgc=SGC,
                name="bench",
                key_ref=key_ref_for(SGC, 1),
                dkga=4,
                key_revision=1,
                base_date=2014,
            )
        )
        await uow.tariffs.add(TARIFF)
        customer = await uow.customers.add(Customer(account_number="B-1", name="Bench"))
        for number in numbers:
            await uow.meters.add(
                Meter(
                    number=number,
                    pan=sts.Pan.parse(number).digits,
                    sgc=SGC,
                    ti=1,
                    krn=1,
                    tariff_code="FLAT",
                    customer_id=customer,
                )
            )
        await uow.commit()
    return numbers


async def _run(core: Core, numbers: list[str], tasks: int, label: str) -> float:
    deadline = time.perf_counter() + SECONDS
    done = 0

    async def worker(index: int) -> None:
        nonlocal done
        n = 0
        while time.perf_counter() < deadline:
            meter = numbers[(index + tasks * n) % len(numbers)]
            ctx = RequestContext(client_id="bench", request_id=f"{label}-{index}-{n}", channel="b")
            await vend_credit(core, ctx, meter, 10_000)
            n += 1
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(tasks)))
    return done / (time.perf_counter() - start)


async def _warm_up(core: Core, numbers: list[str]) -> None:
    """One vend per meter, not timed, as in a gateway that has been running.

    Each meter's decoder key is derived and cached, statements are prepared, caches warm.
    """
    for index, meter in enumerate(numbers):
        ctx = RequestContext(client_id="bench", request_id=f"warm-{index}", channel="b")
        await vend_credit(core, ctx, meter, 10_000)


def _token_and_pricing_cost() -> tuple[float, float]:
    """Seconds per vend spent minting one token and pricing one purchase, measured alone."""
    key = sts.DecoderKey(bytes(8))
    meter = Meter(number="x", pan="600727000000000009", sgc=SGC, ti=1, krn=1, tariff_code="F")
    now = datetime.now(UTC)
    rounds = 20_000
    start = time.perf_counter()
    for _ in range(rounds):
        (tid,) = allocate_tids(meter, now, 1)
        sts.encode(sts.TransferCredit.of(sts.Utility.ELECTRICITY, 434, tid=tid, rnd=5), key)
    token = (time.perf_counter() - start) / rounds
    purchase = PurchaseInput(
        gross=10_000,
        tariff=TARIFF,
        today=now.date(),
        month=None,
        month_tenths=0,
        charged_up_to=None,
    )
    start = time.perf_counter()
    for _ in range(rounds):
        price_purchase(purchase)
    return token, (time.perf_counter() - start) / rounds


@asynccontextmanager
async def _core(url: str, synchronous: SqliteSynchronous, max_batch: int) -> AsyncIterator[Core]:
    """A core wired as vending_core.adapters.compose.sql_core does, with ``max_batch``."""
    await upgrade(url)
    engine = create_engine(url, pool_size=CONCURRENCY, sqlite_synchronous=synchronous)
    key_engine = create_engine(url, pool_size=2)
    try:
        yield Core(
            uow=sql_uow_factory(engine, max_batch=max_batch),
            keys=EncryptedKeyStore(key_engine, KEK),
        )
    finally:
        await engine.dispose()
        await key_engine.dispose()


async def _bench(
    name: str, url: str, synchronous: SqliteSynchronous = "FULL", max_batch: int = MAX_BATCH
) -> None:
    async with _core(url, synchronous, max_batch) as core:
        numbers = await _seed(core)
        await _warm_up(core, numbers)
        sequential = await _run(core, numbers, 1, "seq")
        concurrent = await _run(core, numbers, CONCURRENCY, "par")
    token, pricing = _token_and_pricing_cost()
    target = TARGETS["PostgreSQL" if name == "PostgreSQL" else "SQLite"]
    print(
        f"{name}: {sequential:5.0f} vends/s sequential, {concurrent:5.0f} vends/s with "
        f"{CONCURRENCY} concurrent tasks (target {target}/s: "
        f"{'met' if max(sequential, concurrent) >= target else 'NOT met'})"
    )
    for label, rate in (("sequential", sequential), (f"{CONCURRENCY} tasks", concurrent)):
        per_vend = 1 / rate
        print(
            f"  {label}: {per_vend * 1e3:.2f} ms a vend: token generation "
            f"{token / per_vend:5.1%}, pricing {pricing / per_vend:5.1%}, database and "
            f"orchestration {1 - (token + pricing) / per_vend:5.1%}"
        )


def _postgres_url() -> str | None:
    url = os.environ.get("VENDGATE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    return url


async def _with_postgres_database(server: str) -> None:
    name = f"vendgate_bench_{os.getpid()}"
    admin = create_engine(f"{server}/postgres", pool_size=1)
    try:
        async with admin.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql(f'CREATE DATABASE "{name}"')
        await _bench("PostgreSQL", f"{server}/{name}")
    finally:
        async with admin.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


async def main() -> None:
    """Run the benchmark on SQLite, then on PostgreSQL when reachable."""
    print(f"{SECONDS:.0f} s per run, {METERS} meters, {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as folder:
        await _bench(FULL, f"sqlite+aiosqlite:///{Path(folder) / 'full.sqlite3'}")
        await _bench(ONE_BY_ONE, f"sqlite+aiosqlite:///{Path(folder) / 'one.sqlite3'}", max_batch=1)
        await _bench(NORMAL, f"sqlite+aiosqlite:///{Path(folder) / 'normal.sqlite3'}", "NORMAL")
    server = _postgres_url()
    if server is None:
        print("PostgreSQL: not reachable on 127.0.0.1:5432, skipped")
    else:
        await _with_postgres_database(server)


if __name__ == "__main__":
    asyncio.run(main())
