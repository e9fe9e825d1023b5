"""Engine configuration and column types on real SQLite and PostgreSQL databases.

What the contract suite cannot see from the ports: SQLite's pragmas and ``BEGIN IMMEDIATE``,
PostgreSQL's session settings, UTC on the way out, refused values, and how many statements a
vend costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from vending_core.adapters.db import SQLITE_BEGIN, normalise_url
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


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends from now on (one entry per executemany)."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine.sync_engine, "before_cursor_execute", record)


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


async def test_a_vend_costs_two_statements_and_a_locked_meter_one(
    engine: AsyncEngine, statements: list[str]
) -> None:
    """Storing a vend with three tokens sends two statements; reading a locked meter one."""
    async with sql_uow_factory(engine)() as uow:
        meter_id = await _meter(uow)
        statements.clear()
        await uow.meters.get(meter_id, lock=True)
        assert len(statements) == 1
        if engine.dialect.name == "postgresql":
            assert statements[0].rstrip().endswith("FOR UPDATE")
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
