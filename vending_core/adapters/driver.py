"""Statements compiled once per dialect, run on the database driver's own connection.

The repositories build their statements with SQLAlchemy Core, and SQLAlchemy does what it is
good at: the tables, the SQL of each dialect (paramstyle, bind casts, ``FOR UPDATE``,
``RETURNING``, ``ON CONFLICT``) and the column types' bind and result processors
(:class:`~vending_core.adapters.tables.UtcDateTime`, ``ExactDecimal``, JSON, SQLite dates).
A :class:`Statement` compiles its construct once per dialect into a :class:`Compiled`: the SQL
text, the positional parameter names with their bind processors, the values the statement
binds itself (``LIMIT 1``), and the result columns with their result processors.

The compiled text then runs on the connection that SQLAlchemy's pool hands out, through a
:class:`Driver`: one aiosqlite thread hop, or one asyncpg round trip (a prepared statement
from asyncpg's cache), per statement; under SQLite's group commit
(:class:`vending_core.adapters.groupcommit.TurnDriver`) statements that cannot wait run inline
on the sqlite3 connection, without the hop. SQLAlchemy's asyncio execution layer costs several
times that on the vending hot path (measured on a 2-core machine: a one-row primary-key
SELECT inside a transaction took 430 µs through ``AsyncConnection.execute`` on aiosqlite,
which spends four thread hops per statement, against 80 µs on the driver; 350 µs against
145 µs on asyncpg).

Rows come back as dicts of processed values keyed by result column name. The processors are
the dialect's own (``TypeEngine.dialect_impl(dialect)``), called with ``coltype=None``: no
column type used here depends on the driver's column type code. A compiled statement is
cached per dialect name, which is right while every engine of a dialect is configured alike
(:func:`vending_core.adapters.db.create_engine` is the only place engines are made). Only
plain bound parameters are supported (no ``expanding`` IN lists).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Dialect, Executable
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.selectable import SelectBase

__all__ = [
    "AsyncpgDriver",
    "Compiled",
    "Driver",
    "Row",
    "SqliteDriver",
    "Statement",
    "driver_for",
]

Processor = Callable[[Any], Any]
Row = dict[str, Any]
_INTEGRITY_SQLSTATE_CLASS = "23"  # PostgreSQL: integrity constraint violation
_WRITE_KEYWORDS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


class Compiled:
    """A statement's SQL for one dialect, with what it takes to bind and read it.

    Args:
        sql: The statement's text in the dialect's paramstyle.
        params: The positional parameters' names, each with its bind processor (or None).
        fixed: Values the statement binds itself (``LIMIT 1``), by parameter name.
        columns: The result columns' names, each with its result processor (or None).
    """

    __slots__ = ("_binds", "_columns", "_names", "_results", "fixed", "sql", "writes")

    def __init__(
        self,
        sql: str,
        params: Sequence[tuple[str, Processor | None]],
        fixed: Mapping[str, Any],
        columns: Sequence[tuple[str, Processor | None]],
    ) -> None:
        self.sql = sql
        #: INSERT/UPDATE/DELETE/REPLACE, judged as sqlite3 judges it (the leading keyword)
        self.writes = sql.lstrip().split(None, 1)[0].upper() in _WRITE_KEYWORDS
        self.fixed = dict(fixed)
        self._names = tuple(name for name, _ in params)
        self._binds = tuple((i, p) for i, (_, p) in enumerate(params) if p is not None)
        self._columns = tuple(name for name, _ in columns)
        self._results = tuple((name, p) for name, p in columns if p is not None)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``values`` (KeyError names a missing parameter)."""
        if self.fixed:
            values = {**self.fixed, **values}
        arguments = [values[name] for name in self._names]
        for index, process in self._binds:
            arguments[index] = process(arguments[index])
        return arguments

    def rows(self, records: Sequence[Sequence[Any]]) -> list[Row]:
        """Driver rows as dicts of processed values, keyed by column name."""
        names = self._columns
        rows = [dict(zip(names, record, strict=True)) for record in records]
        if self._results:
            for row in rows:
                for name, process in self._results:
                    row[name] = process(row[name])
        return rows


class Statement:
    """A SQLAlchemy Core statement, compiled once for each dialect it runs on.

    Args:
        construct: The statement, or one per dialect name (``"sqlite"``, ``"postgresql"``)
            for dialect-specific constructs such as ``INSERT ... ON CONFLICT``.
        column_keys: For INSERT and UPDATE: the columns given as parameters (named like
            the columns), in any order.
    """

    __slots__ = ("_column_keys", "_compiled", "_constructs")

    def __init__(
        self,
        construct: Executable | Mapping[str, Executable],
        *,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        self._constructs = construct
        self._column_keys = None if column_keys is None else list(column_keys)
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        """The statement compiled for ``dialect`` (cached by dialect name)."""
        found = self._compiled.get(dialect.name)
        if found is None:
            construct = self._constructs
            if isinstance(construct, Mapping):
                construct = construct[dialect.name]
            found = self._compiled[dialect.name] = _compile(construct, dialect, self._column_keys)
        return found


def _compile(construct: Executable, dialect: Dialect, column_keys: list[str] | None) -> Compiled:
    if not isinstance(construct, ClauseElement):  # pragma: no cover - programming error
        raise TypeError(f"not a SQLAlchemy Core statement: {construct!r}")
    compiled: Any = construct.compile(dialect=dialect, column_keys=column_keys)
    if "POSTCOMPILE" in compiled.string:  # pragma: no cover - programming error
        raise ValueError("expanding or literal-execute parameters are not supported here")
    names: list[str] = list(compiled.positiontup or ())
    params = tuple(
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in names
    )
    fixed = {
        name: compiled.binds[name].effective_value
        for name in names
        if not compiled.binds[name].required
    }
    return Compiled(compiled.string, params, fixed, _result_columns(construct, dialect))


def _result_columns(
    construct: Executable, dialect: Dialect
) -> tuple[tuple[str, Processor | None], ...]:
    if isinstance(construct, SelectBase):
        selected = list(construct.selected_columns)
    elif isinstance(construct, UpdateBase):
        selected = list(construct.exported_columns)  # the RETURNING columns, if any
    else:
        return ()
    return tuple(
        (column.name, column.type.dialect_impl(dialect).result_processor(dialect, None))
        for column in selected
    )


class Driver(Protocol):
    """One pooled database connection, driven directly (see the module docstring)."""

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> Sequence[Sequence[Any]]:
        """Run a statement that returns rows (SELECT, ``RETURNING``); all its rows."""
        ...

    async def execute(self, sql: str, arguments: Sequence[Any]) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        ...

    async def execute_many(self, sql: str, arguments: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per argument list, in one call to the driver."""
        ...

    async def begin(self, *, before_write: bool = False) -> bool:
        """Begin a transaction (``BEGIN IMMEDIATE`` on SQLite, READ COMMITTED on PostgreSQL).

        With ``before_write`` (the next statement writes) a driver whose writes begin a
        transaction themselves, as ``begin`` would (sqlite3), may send nothing and leave the
        begin to that statement: a unit of work whose first statement writes (the idempotency
        claim) then needs no round trip of its own. Returns whether a begin was sent.
        """
        ...

    async def commit(self) -> None:
        """Commit the transaction."""
        ...

    async def rollback(self) -> None:
        """Roll the transaction back."""
        ...

    def in_transaction(self) -> bool:
        """Whether the connection is inside a transaction (no round trip)."""
        ...

    def is_integrity_error(self, error: BaseException) -> bool:
        """Whether ``error`` is the database refusing a row (unique, foreign key, not null)."""
        ...


class _Aiosqlite(Protocol):
    """The parts of ``aiosqlite.Connection`` used here."""

    @property
    def in_transaction(self) -> bool: ...
    @property
    def isolation_level(self) -> str | None: ...
    async def execute_fetchall(self, sql: str, parameters: Any) -> Any: ...
    def execute(self, sql: str, parameters: Any) -> Any: ...
    async def executemany(self, sql: str, parameters: Any) -> Any: ...


class SqliteDriver:
    """An aiosqlite connection: each call is one hop to the connection's thread."""

    __slots__ = ("_connection",)

    def __init__(self, connection: _Aiosqlite) -> None:
        self._connection = connection

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> Sequence[Sequence[Any]]:
        """All rows of the statement."""
        rows: Sequence[Sequence[Any]] = await self._connection.execute_fetchall(sql, arguments)
        return rows

    async def execute(self, sql: str, arguments: Sequence[Any]) -> int:
        """The statement's changed-row count."""
        cursor = await self._connection.execute(sql, arguments)
        count: int = cursor.rowcount
        return count

    async def execute_many(self, sql: str, arguments: Sequence[Sequence[Any]]) -> None:
        """``executemany`` in one hop."""
        await self._connection.executemany(sql, arguments)

    async def begin(self, *, before_write: bool = False) -> bool:
        """``BEGIN IMMEDIATE``: take the write lock before the first read (db module).

        Before a write, nothing with the ``IMMEDIATE`` isolation level that the db module
        sets: sqlite3 then opens ``BEGIN IMMEDIATE`` itself before an INSERT, UPDATE, DELETE
        or REPLACE run outside a transaction, in the same call (documented sqlite3 behaviour).
        """
        if before_write and self._connection.isolation_level == "IMMEDIATE":
            return False
        await self._connection.execute("BEGIN IMMEDIATE", ())
        return True

    async def commit(self) -> None:
        """``COMMIT``."""
        await self._connection.execute("COMMIT", ())

    async def rollback(self) -> None:
        """``ROLLBACK`` (nothing when no transaction is open)."""
        if self._connection.in_transaction:
            await self._connection.execute("ROLLBACK", ())

    def in_transaction(self) -> bool:
        """SQLite's own flag (read without a hop)."""
        return self._connection.in_transaction

    def is_integrity_error(self, error: BaseException) -> bool:
        """``sqlite3.IntegrityError``."""
        return isinstance(error, sqlite3.IntegrityError)


class _Asyncpg(Protocol):
    """The parts of ``asyncpg.Connection`` used here (asyncpg ships no type hints)."""

    async def fetch(self, query: str, *args: Any) -> Any: ...
    async def execute(self, query: str, *args: Any) -> Any: ...
    async def executemany(self, command: str, args: Any) -> Any: ...
    def is_in_transaction(self) -> bool: ...


class AsyncpgDriver:
    """An asyncpg connection: each call is one round trip, on a cached prepared statement.

    Transactions are plain ``BEGIN``/``COMMIT``/``ROLLBACK`` statements (not asyncpg's
    ``Transaction`` object, which refuses to roll back after a failed commit); whether one is
    open is the server's own answer, which asyncpg keeps from every reply.
    """

    __slots__ = ("_connection",)

    def __init__(self, connection: _Asyncpg) -> None:
        self._connection = connection

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> Sequence[Sequence[Any]]:
        """All rows of the statement (asyncpg records index like tuples)."""
        rows: Sequence[Sequence[Any]] = await self._connection.fetch(sql, *arguments)
        return rows

    async def execute(self, sql: str, arguments: Sequence[Any]) -> int:
        """The count from the command tag (``UPDATE 1``, ``INSERT 0 1``)."""
        status: str = await self._connection.execute(sql, *arguments)
        return int(status.rpartition(" ")[2])

    async def execute_many(self, sql: str, arguments: Sequence[Sequence[Any]]) -> None:
        """``executemany`` (pipelined by asyncpg)."""
        await self._connection.executemany(sql, arguments)

    async def begin(self, *, before_write: bool = False) -> bool:
        """``BEGIN ISOLATION LEVEL READ COMMITTED`` (PostgreSQL begins only when asked)."""
        await self._connection.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        return True

    async def commit(self) -> None:
        """``COMMIT``."""
        await self._connection.execute("COMMIT")

    async def rollback(self) -> None:
        """``ROLLBACK`` (nothing when no transaction is open)."""
        if self._connection.is_in_transaction():
            await self._connection.execute("ROLLBACK")

    def in_transaction(self) -> bool:
        """The server's transaction status from its last reply (no round trip)."""
        return self._connection.is_in_transaction()

    def is_integrity_error(self, error: BaseException) -> bool:
        """SQLSTATE class 23 (integrity constraint violation)."""
        return str(getattr(error, "sqlstate", "")).startswith(_INTEGRITY_SQLSTATE_CLASS)


def driver_for(dialect: Dialect, connection: Any) -> Driver:
    """The :class:`Driver` of a pooled connection's ``driver_connection``."""
    if dialect.name == "sqlite":
        return SqliteDriver(connection)
    if dialect.name == "postgresql":
        return AsyncpgDriver(connection)
    raise ValueError(f"no driver for dialect {dialect.name!r}")  # pragma: no cover
