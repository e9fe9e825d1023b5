"""Read-only units of work: on SQLite inline on one connection, on PostgreSQL in autocommit.

Quoting, confirming a customer, reprints, balances and phone profiles only read. Through the
group commit (:mod:`vending_core.adapters.groupcommit`) they would queue for the writers'
turn and wait for their batch's ``COMMIT``; on a pooled connection of their own they would
pay a thread hop per statement. Instead every read-only unit of work of a factory shares one
long-lived connection and runs its statements inline on the event loop: in WAL mode a reader
never waits for a writer, and each ``SELECT`` is a few tens of microseconds.

Each statement reads the newest committed data on its own (autocommit, no ``BEGIN``): units
of work interleave on the shared connection between their statements, so none may hold a
transaction open. A read-only unit of work that tries to write raises RepositoryError.

On PostgreSQL a read-only unit of work takes a pooled connection as any other but sends no
``BEGIN`` and no ``COMMIT`` (:class:`AutocommitReads`): at READ COMMITTED every statement reads
its own snapshot even inside a transaction, so a read-only transaction adds nothing but those
two round trips (a third of a one-query read's).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vending_core.adapters.driver import Driver
from vending_core.adapters.errors import RepositoryError

__all__ = ["AutocommitReads", "ReadDriver", "SqliteReader"]


class SqliteReader:
    """The shared read connection of one unit-of-work factory (opened on first use)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._raw: sqlite3.Connection | None = None
        self._opening = asyncio.Lock()

    async def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection to read on (checked out of the engine's pool once)."""
        if self._raw is None:
            async with self._opening:
                if self._raw is None:
                    connection = await self._engine.connect()
                    sync = connection.sync_connection
                    pooled = sync.connection if sync else await connection.get_raw_connection()
                    aio: Any = pooled.driver_connection  # aiosqlite's connection
                    self._raw = aio._conn  # its sqlite3 connection, as groupcommit takes it
                    self._connection = connection
        return self._raw

    async def close(self) -> None:
        """Give the connection back to the pool (before the engine is disposed of)."""
        connection, self._connection, self._raw = self._connection, None, None
        if connection is not None:
            await connection.close()


class ReadDriver:
    """A ``Driver`` that only reads, inline, on the shared connection."""

    __slots__ = ("_raw",)

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> Sequence[Sequence[Any]]:
        """All rows of the statement (run at once, on the calling thread)."""
        rows: Sequence[Sequence[Any]] = self._raw.execute(sql, arguments).fetchall()
        return rows

    async def execute(self, sql: str, arguments: Sequence[Any]) -> int:
        """Refused: this unit of work only reads."""
        raise RepositoryError(f"a read-only unit of work cannot run {sql.split(maxsplit=1)[0]}")

    async def execute_many(self, sql: str, arguments: Sequence[Sequence[Any]]) -> None:
        """Refused: this unit of work only reads."""
        raise RepositoryError(f"a read-only unit of work cannot run {sql.split(maxsplit=1)[0]}")

    async def begin(self, *, before_write: bool = False) -> bool:
        """Nothing to send: each statement reads on its own (see the module docstring).

        Answers True ("begun") so the session does not expect the statement to open one.
        """
        del before_write
        return True

    async def commit(self) -> None:
        """Nothing was written."""

    async def rollback(self) -> None:
        """Nothing was written."""

    def in_transaction(self) -> bool:
        """Never: reads run in autocommit."""
        return False

    def is_integrity_error(self, error: BaseException) -> bool:
        """``sqlite3.IntegrityError`` (cannot happen: nothing is written)."""
        return isinstance(error, sqlite3.IntegrityError)


class AutocommitReads:
    """A ``Driver`` over a pooled connection's driver that only reads, with no transaction.

    Args:
        inner: The connection's own driver (its ``fetch`` runs the statements).
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: Driver) -> None:
        self._inner = inner

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> Sequence[Sequence[Any]]:
        """All rows of the statement, read in autocommit."""
        return await self._inner.fetch(sql, arguments)

    async def execute(self, sql: str, arguments: Sequence[Any]) -> int:
        """Refused: this unit of work only reads."""
        raise RepositoryError(f"a read-only unit of work cannot run {sql.split(maxsplit=1)[0]}")

    async def execute_many(self, sql: str, arguments: Sequence[Sequence[Any]]) -> None:
        """Refused: this unit of work only reads."""
        raise RepositoryError(f"a read-only unit of work cannot run {sql.split(maxsplit=1)[0]}")

    async def begin(self, *, before_write: bool = False) -> bool:
        """Nothing to send; answers True ("begun") so no statement is expected to open one."""
        del before_write
        return True

    async def commit(self) -> None:
        """Nothing was written."""

    async def rollback(self) -> None:
        """Nothing was written (the pooled connection is in no transaction)."""
        await self._inner.rollback()

    def in_transaction(self) -> bool:
        """The connection's own answer (never, unless something went wrong)."""
        return self._inner.in_transaction()

    def is_integrity_error(self, error: BaseException) -> bool:
        """As the connection's driver judges it (cannot happen: nothing is written)."""
        return self._inner.is_integrity_error(error)
