"""Engine configuration and column types on real SQLite and PostgreSQL databases.

What the contract suite cannot see from the ports: SQLite's pragmas and ``BEGIN IMMEDIATE``,
PostgreSQL's session settings, UTC on the way out, refused values, how many statements a
vend costs and when a unit of work begins its transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from vending_core.adapters.db import SQLITE_BEGIN, create_engine, normalise_url
from vending_core.adapters.errors import ConstraintViolation, DuplicateTid
from vending_core.adapters.sql import SqlUnitOfWork, sql_uow_factory
from vending_core.domain.model import Debt, DebtMode, Meter, SupplyGroup
from vending_core.domain.records import IssuedToken, MeterEvent, TokenKind, Vend, VendKind

_DATABASES = [
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
]
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture(params=_DATABASES)
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Each real database in turn."""
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


async def _meter(uow: SqlUnitOfWork) -> int:
    group = SupplyGroup(sgc="600727", name="G", key_ref="k", dkga=4, key_revision=1, base_date=2014)
    await uow.supply_groups.add(group)
    meter = Meter(
        number="04040404040", pan="600727040404040404", sgc="600727", ti=1, krn=1, tariff_code="RES"
    )
    return await uow.meters.add(meter)


def _vend(meter_id: int, tokens: int) -> Vend:
    return Vend(
        client_id="c",
        request_id="r",
        kind=VendKind.CREDIT,
        meter_id=meter_id,
        meter_number="04040404040",
        channel="api",
        created_at=T0,
        tokens=tuple(
            IssuedToken(sequence=n, kind=TokenKind.CREDIT, token=f"{n:020d}", tid=1000 + n)
            for n in range(tokens)
        ),
    )


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(
    sqlite_engine: AsyncEngine,
) -> None:
    """Every SQLite connection has WAL, a 30 s busy timeout and foreign keys on."""
    async with sqlite_engine.connect() as connection:
        pragmas = {
            name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        }
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30_000, "foreign_keys": 1}


@pytest.mark.parametrize(("configured", "pragma"), [(None, 2), ("FULL", 2), ("NORMAL", 1)])
async def test_sqlite_synchronous_is_full_unless_configured(
    sqlite_url: str, configured: Any, pragma: int
) -> None:
    """PRAGMA synchronous is FULL (2) by default; sqlite_synchronous="NORMAL" sets 1."""
    options = {} if configured is None else {"sqlite_synchronous": configured}
    engine = create_engine(sqlite_url, **options)
    try:
        async with engine.connect() as connection:
            found = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar_one()
    finally:
        await engine.dispose()
    assert found == pragma
    with pytest.raises(ValueError, match="FULL or NORMAL"):
        create_engine(sqlite_url, sqlite_synchronous="OFF")  # type: ignore[arg-type]


async def test_sqlite_connection_returned_in_a_transaction_is_rolled_back(
    sqlite_engine: AsyncEngine,
) -> None:
    """A connection handed back with a transaction open is rolled back before its next use.

    (Without one, it goes back without the ROLLBACK round trip SQLAlchemy would send.)
    """
    async with sqlite_engine.connect() as connection:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        await driver.execute("BEGIN IMMEDIATE")
        assert driver.in_transaction
    async with sqlite_engine.connect() as connection:
        again: Any = (await connection.get_raw_connection()).driver_connection
        assert again is driver
        assert not again.in_transaction


async def test_transaction_begins_with_the_first_statement(engine: AsyncEngine) -> None:
    """Entering sends nothing; the first statement begins the transaction, as after a commit.

    On SQLite a first statement that writes (the idempotency claim) carries sqlite3's own
    ``BEGIN IMMEDIATE`` (no separate BEGIN); a read, and anything on PostgreSQL, is preceded
    by an explicit BEGIN. Leaving rolls back only what is open.
    """
    statements: list[str] = []
    async with sql_uow_factory(engine, observe=statements.append)() as uow:
        assert statements == []
        assert await uow.requests.claim("c", "r", "f") is True
        await uow.commit()
        assert await uow.requests.get("c", "r") is not None
    kinds = [sql.split()[0] for sql in statements]
    first_write = ["INSERT"] if engine.dialect.name == "sqlite" else ["BEGIN", "INSERT"]
    assert kinds == [*first_write, "COMMIT", "BEGIN", "SELECT", "ROLLBACK"]
    async with sql_uow_factory(engine)() as uow:
        await uow.requests.claim("c", "r2", "f")  # left without commit: rolled back
    async with sql_uow_factory(engine)() as uow:
        assert await uow.requests.get("c", "r2") is None


@pytest.mark.parametrize("mode", ["IMMEDIATE", "DEFERRED"])
async def test_sqlite_transactions_begin_immediate_unless_told_deferred(
    sqlite_engine: AsyncEngine, mode: str
) -> None:
    """Transactions open with BEGIN IMMEDIATE; the SQLITE_BEGIN option can ask for DEFERRED."""
    sent: list[str] = []
    event.listen(sqlite_engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    async with sqlite_engine.connect() as connection:
        await connection.execution_options(**{SQLITE_BEGIN: mode})
        await connection.execute(text("SELECT 1"))
    assert sent[:2] == [f"BEGIN {mode}", "SELECT 1"]


async def test_postgres_sessions_are_read_committed_in_utc(postgres_engine: AsyncEngine) -> None:
    """PostgreSQL connections run READ COMMITTED with the session time zone UTC."""
    async with postgres_engine.connect() as connection:
        isolation = (await connection.exec_driver_sql("SHOW transaction_isolation")).scalar()
        zone = (await connection.exec_driver_sql("SHOW timezone")).scalar()
    assert (isolation, zone) == ("read committed", "UTC")


@pytest.mark.postgres
async def test_postgres_pool_keeps_its_size_and_opens_its_overflow(
    migrated_postgres_url: str,
) -> None:
    """pool_size connections are kept; pool_overflow more open under load, then close.

    Size 1, overflow 1: two connections at once are one kept and one overflow (the pool's
    overflow count goes from -1, none open yet, to 1); once both are returned, the overflow
    one is closed and the pool holds 1.
    """
    engine = create_engine(migrated_postgres_url, pool_size=1, pool_overflow=1)
    pool = engine.sync_engine.pool
    try:
        assert (pool.size(), pool.overflow()) == (1, -1)  # type: ignore[attr-defined]
        async with engine.connect() as first, engine.connect() as second:
            await first.exec_driver_sql("SELECT 1")
            await second.exec_driver_sql("SELECT 1")
            assert pool.overflow() == 1  # type: ignore[attr-defined]
            assert pool.checkedout() == 2  # type: ignore[attr-defined]
        assert (pool.checkedin(), pool.overflow()) == (1, 0)  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_times_come_back_in_utc(engine: AsyncEngine) -> None:
    """A time stored at +02:00 comes back as the same instant with tzinfo UTC."""
    async with SqlUnitOfWork(engine) as uow:
        meter_id = await _meter(uow)
        await uow.meters.add_event(MeterEvent(meter_id=meter_id, at=T0, kind="installed"))
        (stored,) = await uow.meters.events(meter_id)
    assert stored.at == T0
    assert stored.at.tzinfo is UTC


async def test_naive_datetimes_and_float_decimals_are_refused(engine: AsyncEngine) -> None:
    """A naive datetime (ValueError) or a float where a Decimal belongs (TypeError) is refused."""
    async with SqlUnitOfWork(engine) as uow:
        meter_id = await _meter(uow)
        naive = MeterEvent(meter_id=meter_id, at=datetime(2026, 3, 1), kind="x")  # noqa: DTZ001
        with pytest.raises(ValueError, match="naive"):
            await uow.meters.add_event(naive)
    async with SqlUnitOfWork(engine) as uow:
        meter_id = await _meter(uow)
        a_float: Any = 0.25
        debt = Debt(
            meter_id=meter_id, description="x", outstanding=1, mode=DebtMode.PERCENT, value=a_float
        )
        with pytest.raises(TypeError, match="Decimal"):
            await uow.debts.add(debt)


async def test_missing_referenced_row_is_a_constraint_violation(engine: AsyncEngine) -> None:
    """A meter on an unknown supply group is refused by the foreign key (not a DuplicateTid)."""
    async with SqlUnitOfWork(engine) as uow:
        meter = Meter(
            number="1", pan="600727000000000001", sgc="999999", ti=1, krn=1, tariff_code="RES"
        )
        with pytest.raises(ConstraintViolation) as caught:
            await uow.meters.add(meter)
    assert not isinstance(caught.value, DuplicateTid)


async def test_a_vend_costs_two_statements_and_a_locked_meter_one(engine: AsyncEngine) -> None:
    """Storing a vend with three tokens sends two statements; reading a locked meter one.

    A locked meter read with its customer, tariff and debts is one statement on SQLite; on
    PostgreSQL it locks the meter row only (``FOR UPDATE OF meters``, not the shared tariff
    row) and reads the debts in a second statement, after the lock.
    """
    statements: list[str] = []
    async with sql_uow_factory(engine, observe=statements.append)() as uow:
        meter_id = await _meter(uow)
        statements.clear()
        await uow.meters.get(meter_id, lock=True)
        assert len(statements) == 1
        if engine.dialect.name == "postgresql":
            assert statements[0].rstrip().endswith("FOR UPDATE")
        statements.clear()
        assert await uow.meters.get_detail("04040404040", lock=True) is not None
        if engine.dialect.name == "postgresql":
            assert len(statements) == 2
            assert statements[0].rstrip().endswith("FOR UPDATE OF meters")
        else:
            assert len(statements) == 1
        statements.clear()
        await uow.vends.add(_vend(meter_id, tokens=3))
        assert len(statements) == 2


def test_urls_get_the_async_driver_and_bad_ones_are_refused() -> None:
    """postgresql:// and sqlite:// get asyncpg/aiosqlite; other databases and drivers fail."""
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert normalise_url("sqlite+aiosqlite:///x.db").database == "x.db"
    refused: dict[str, str] = {
        "mysql://h/db": "unsupported",
        "postgresql+psycopg2://h/db": "not async",
        "sqlite+aiosqlite://": "in-memory",
        "sqlite+aiosqlite:///:memory:": "in-memory",
    }
    for url, reason in refused.items():
        with pytest.raises(ValueError, match=reason):
            normalise_url(url)
