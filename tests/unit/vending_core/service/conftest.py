"""Fixtures: a vending core seeded with one meter, on every backend.

The service suite runs three times: on the in-memory twin, on SQLite (a fresh migrated
file per test) and on PostgreSQL (the session's migrated database, emptied per test;
skipped without a server, a failure in CI).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.core_world import Clock, World, seed
from vending_core.adapters.db import create_engine
from vending_core.adapters.keystore import EncryptedKeyStore
from vending_core.adapters.memory import MemoryKeyStore, memory_uow_factory
from vending_core.adapters.sql import sql_uow_factory
from vending_core.adapters.tables import metadata
from vending_core.service.core import Core, RequestContext

KEK = secrets.token_bytes(32)


@pytest.fixture
def clock() -> Clock:
    """2026-03-10 09:30 UTC."""
    return Clock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))


async def _sql_core(engine: AsyncEngine, url: str, clock: Clock) -> AsyncIterator[Core]:
    key_engine = create_engine(url, pool_size=2)
    try:
        yield Core(
            uow=sql_uow_factory(engine),
            keys=EncryptedKeyStore(key_engine, KEK),
            clock=clock,
            random_nibble=lambda: 5,
        )
    finally:
        await key_engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    """None for the memory twin, else the URL of a fresh migrated database of that kind."""
    if request.param == "memory":
        return None
    fixture = "sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
async def core(backend_url: str | None, clock: Clock) -> AsyncIterator[Core]:
    """A core with a deterministic random nibble, on each backend in turn."""
    if backend_url is None:
        yield Core(
            uow=memory_uow_factory(), keys=MemoryKeyStore(), clock=clock, random_nibble=lambda: 5
        )
        return
    engine = create_engine(backend_url, pool_size=8)
    try:
        if engine.dialect.name == "postgresql":
            names = ", ".join(table.name for table in metadata.sorted_tables)
            async with engine.begin() as connection:
                await connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        async for core in _sql_core(engine, backend_url, clock):
            yield core
    finally:
        await engine.dispose()


@pytest.fixture
async def world(core: Core, clock: Clock) -> World:
    """The core seeded with one meter (no FBE, no debt)."""
    counter = iter(range(1, 1_000_000))

    def next_request(**kwargs: str) -> RequestContext:
        return RequestContext(
            client_id=kwargs.get("client_id", "test"),
            request_id=kwargs.get("request_id", f"r{next(counter)}"),
            channel=kwargs.get("channel", "ussd"),
            vendor_code=kwargs.get("vendor_code"),
            operator=kwargs.get("operator"),
        )

    number = await seed(core)
    return World(core=core, clock=clock, meter_number=number, next_request=next_request)
