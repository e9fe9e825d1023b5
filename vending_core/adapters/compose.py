"""Build a vending :class:`~vending_core.service.core.Core` on a real database.

The gateway's composition root, the command line, the benchmarks and the integration
tests all wire the core the same way: one engine, SQL units of work, the encrypted key
store, and the engine disposed of at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo

from vending_core.adapters.db import SqliteSynchronous, create_engine
from vending_core.adapters.keystore import EncryptedKeyStore
from vending_core.adapters.migrate import upgrade
from vending_core.adapters.sql import sql_reader_factory, sql_uow_factory
from vending_core.service.core import Core

__all__ = ["sql_core"]


@asynccontextmanager
async def sql_core(
    url: str,
    kek: bytes,
    *,
    tz: tzinfo = UTC,
    migrate: bool = False,
    pool_size: int = 10,
    pool_overflow: int | None = None,
    clock: Callable[[], datetime] | None = None,
    sqlite_synchronous: SqliteSynchronous = "FULL",
) -> AsyncIterator[Core]:
    """A core on the database at ``url`` (migrated first when ``migrate``).

    ``sqlite_synchronous`` is SQLite's durability setting (see vending_core.adapters.db);
    ``pool_size`` and ``pool_overflow`` (default: as many) size PostgreSQL's pool.
    """
    if migrate:
        await upgrade(url)
    engine = create_engine(
        url,
        pool_size=pool_size,
        pool_overflow=pool_overflow,
        sqlite_synchronous=sqlite_synchronous,
    )
    # The key store reads through its own small pool: a vend asks for a key while its unit of
    # work holds a connection (and the meter lock), so sharing one pool could starve it.
    key_engine = create_engine(url, pool_size=2)
    try:
        reads, reader = sql_reader_factory(engine)
        core = Core(
            uow=sql_uow_factory(engine),
            reader=reads,
            keys=EncryptedKeyStore(key_engine, kek),
            tz=tz,
        )
        if clock is not None:
            core.clock = clock
        yield core
    finally:
        if reader is not None:
            await reader.close()
        await engine.dispose()
        await key_engine.dispose()
