"""Read-only units of work: committed data only, writes refused; PostgreSQL without BEGIN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from config.settings import DEVELOPMENT_KEY_ENCRYPTION_KEY
from vending_core.adapters.compose import sql_core
from vending_core.adapters.db import create_engine
from vending_core.adapters.errors import RepositoryError
from vending_core.adapters.sql import sql_reader_factory
from vending_core.domain.model import MeterStatus
from vending_core.service.demo_data import DEMO_METERS, load_demo_data


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A fresh database: a SQLite copy, or a new PostgreSQL database (migrated by the core)."""
    if request.param == "sqlite":
        return sqlite_url
    factory: Callable[[str], str] = request.getfixturevalue("postgres_database_factory")
    return factory("reader")


async def test_reader_sees_committed_data_only_and_refuses_writes(url: str) -> None:
    """A change is invisible to readers until its unit of work commits; readers cannot write.

    The writer blocks meter 1 (status change) and, before committing, a reader still sees it
    active; after the commit the reader sees it blocked. An UPDATE through a reader raises.
    """
    async with sql_core(url, DEVELOPMENT_KEY_ENCRYPTION_KEY, migrate=True) as core:
        await load_demo_data(core)
        number = DEMO_METERS[0].number
        async with core.uow() as writer:
            meter = await writer.meters.get_by_number(number, lock=True)
            assert meter is not None
            meter.status = MeterStatus.BLOCKED
            await writer.meters.update(meter)
            async with core.read_uow() as reader:
                seen = await reader.meters.get_by_number(number)
                assert seen is not None
                assert seen.status is MeterStatus.ACTIVE
            await writer.commit()
        async with core.read_uow() as reader:
            seen = await reader.meters.get_by_number(number)
            assert seen is not None
            assert seen.status is MeterStatus.BLOCKED
            with pytest.raises(RepositoryError, match="read-only"):
                await reader.meters.update(seen)


@pytest.mark.postgres
async def test_postgres_readers_send_no_begin_or_commit(
    postgres_database_factory: Callable[[str], str],
) -> None:
    """On PostgreSQL a read-only unit of work sends its SELECTs and nothing else.

    What the server receives is read with asyncpg's query logger on the pooled connection:
    two reads in one reader are two SELECTs (an ordinary unit of work would add a BEGIN
    before them and a ROLLBACK or COMMIT after).
    """
    url = postgres_database_factory("reader-statements")
    async with sql_core(url, DEVELOPMENT_KEY_ENCRYPTION_KEY, migrate=True) as core:
        await load_demo_data(core)
    received: list[str] = []
    engine = create_engine(url, pool_size=1)

    @event.listens_for(engine.sync_engine, "connect")
    def log_queries(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(
            lambda record: received.append(record.query)
        )

    try:
        reads, _ = sql_reader_factory(engine)
        async with reads() as reader:
            assert await reader.meters.get_by_number(DEMO_METERS[0].number) is not None
            assert await reader.customers.get_by_account("no-such-account") is None
    finally:
        await engine.dispose()
    assert [sql.split(maxsplit=1)[0] for sql in received] == ["SELECT", "SELECT"]
