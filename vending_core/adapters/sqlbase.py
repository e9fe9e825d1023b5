"""Plumbing shared by the SQL repositories: the unit of work's session, statements, errors.

Statements are built once, at import, as :class:`~vending_core.adapters.driver.Statement`
objects over SQLAlchemy Core constructs with bound parameters (``k_<column>`` name the key
columns, so they never clash with the values of the columns being set); values travel as
parameters. Each is compiled once per dialect and runs on the driver (module
:mod:`vending_core.adapters.driver`): a repository call costs one round trip and little Python.

A :class:`Session` is the unit of work's connection. It begins a transaction before its first
statement and before the first after a commit (when that statement writes and the driver
begins by itself before a write, as sqlite3 does, no separate BEGIN is sent), translates the
database refusing a row into
:class:`~vending_core.adapters.errors.ConstraintViolation` /
:class:`~vending_core.adapters.errors.DuplicateTid`, and lets an observer see every statement
(tests count them; ``echo`` logs them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Select,
    Table,
    and_,
    bindparam,
    insert,
    select,
    update,
)

from vending_core.adapters.driver import Compiled, Driver, Row, Statement
from vending_core.adapters.errors import ConstraintViolation, DuplicateTid, RowNotFound

__all__ = [
    "Clock",
    "Observer",
    "Repository",
    "Session",
    "by_id",
    "insert_into",
    "key_clause",
    "locked",
    "select_where",
    "stored_id",
    "update_where",
]

Clock = Callable[[], datetime]
_T = TypeVar("_T")
Observer = Callable[[str], None]

_TID_INDEX_MARKERS = ("uq_vend_tokens_meter_id_tid", "vend_tokens.meter_id, vend_tokens.tid")


def key_clause(table: Table, *columns: str) -> ColumnElement[bool]:
    """``column = :k_column AND ...``: a WHERE clause on bound key parameters."""
    return and_(*(table.c[name] == bindparam(f"k_{name}") for name in columns))


def select_where(table: Table, *columns: str) -> Select[Any]:
    """``SELECT * FROM table WHERE`` the key columns equal their ``k_*`` parameters."""
    return select(table).where(key_clause(table, *columns))


def locked(statement: Select[Any], *of: Table) -> Select[Any]:
    """The statement with ``FOR UPDATE`` (``OF`` the tables given; nothing on SQLite)."""
    return statement.with_for_update(of=list(of) or None)


def _columns(table: Table, skip: Sequence[str]) -> list[str]:
    return [column.name for column in table.columns if column.name not in skip]


def insert_into(table: Table, *, skip: Sequence[str] = ()) -> Statement:
    """``INSERT`` of every column but ``skip``, each a parameter named like its column."""
    return Statement(insert(table), column_keys=_columns(table, skip))


def update_where(
    table: Table, *keys: str, skip: Sequence[str] = (), columns: Sequence[str] | None = None
) -> Statement:
    """``UPDATE`` of ``columns`` (default: all but the keys and ``skip``) where keys = ``k_*``."""
    statement = update(table).where(key_clause(table, *keys))
    names = _columns(table, (*keys, *skip)) if columns is None else columns
    return Statement(statement, column_keys=names)


def by_id(table: Table) -> tuple[Statement, Statement, Statement]:
    """Insert returning the new id, select by id, update by id."""
    return (
        Statement(insert(table).returning(table.c.id), column_keys=_columns(table, ("id",))),
        Statement(select_where(table, "id")),
        update_where(table, "id"),
    )


def _refusal(error: Exception) -> ConstraintViolation:
    message = str(error)
    if any(marker in message for marker in _TID_INDEX_MARKERS):
        return DuplicateTid(f"a token repeats a TID already issued to this meter: {message}")
    return ConstraintViolation(f"the database refused the row: {message}")


def stored_id(entity_id: int | None, what: str) -> int:
    """The id of an entity to update; ValueError if it was never stored."""
    if entity_id is None:
        raise ValueError(f"cannot update a {what} that was never stored (id is None)")
    return entity_id


class Session:
    """The unit of work's connection: one transaction at a time on one driver connection.

    Args:
        driver: The pooled connection, driven directly.
        dialect: The engine's dialect (statements are compiled for it).
        observe: Called with the SQL of every statement before it runs, and with
            ``"BEGIN"``, ``"COMMIT"`` or ``"ROLLBACK"`` for the unit of work's transaction
            control (under SQLite's group commit the database may see ``SAVEPOINT``,
            ``RELEASE``, ``ROLLBACK TO`` and one ``COMMIT`` for several units of work; see
            :mod:`vending_core.adapters.groupcommit`).
    """

    __slots__ = ("_active", "_driver", "_observe", "dialect")

    def __init__(
        self, driver: Driver, dialect: Dialect, *, observe: Observer | None = None
    ) -> None:
        self.dialect = dialect
        self._driver = driver
        self._observe = observe
        self._active = False

    @property
    def active(self) -> bool:
        """Whether a transaction is open."""
        return self._active

    def in_transaction(self) -> bool:
        """Whether the connection itself is inside a transaction (no round trip)."""
        return self._driver.in_transaction()

    async def begin(self) -> None:
        """Begin a transaction."""
        self._notice("BEGIN")
        await self._driver.begin()
        self._active = True

    async def _begin_before(self, compiled: Compiled) -> bool:
        """Begin before ``compiled``; True if the driver left the begin to the statement."""
        self._active = True  # failed or not: rollback asks the driver what is open
        sent = await self._driver.begin(before_write=compiled.writes)
        if sent:
            self._notice("BEGIN")
        return not sent

    async def commit(self) -> None:
        """Commit the open transaction, if any (a failed commit leaves it for rollback)."""
        if self._active:
            self._notice("COMMIT")
            await self._driver.commit()
            self._active = False

    async def rollback(self) -> None:
        """Roll back the transaction the connection is in, if any."""
        try:
            if self._driver.in_transaction():
                self._notice("ROLLBACK")
                await self._driver.rollback()
        finally:
            self._active = False

    def _notice(self, sql: str) -> None:
        if self._observe is not None:
            self._observe(sql)

    async def _prepare(self, compiled: Compiled) -> bool:
        """Begin before the statement, unless the driver's own begin comes with it (True)."""
        begun_by_driver = False
        if not self._active:
            begun_by_driver = await self._begin_before(compiled)
        self._notice(compiled.sql)
        return begun_by_driver

    async def _run(self, compiled: Compiled, call: Callable[[], Awaitable[_T]]) -> _T:
        begun_by_driver = await self._prepare(compiled)
        try:
            result = await call()
        except Exception as exc:
            if self._driver.is_integrity_error(exc):
                raise _refusal(exc) from exc
            raise
        if begun_by_driver and not self._driver.in_transaction():  # pragma: no cover
            raise RuntimeError(f"the driver began no transaction before: {compiled.sql}")
        return result

    async def fetch(self, statement: Statement, values: Mapping[str, Any]) -> list[Row]:
        """Every row of a SELECT (or ``RETURNING``), as dicts of processed values."""
        compiled = statement.compiled(self.dialect)
        arguments = compiled.arguments(values)
        records = await self._run(compiled, lambda: self._driver.fetch(compiled.sql, arguments))
        return compiled.rows(records)

    async def execute(self, statement: Statement, values: Mapping[str, Any]) -> int:
        """Run a statement without rows; the number of rows it changed."""
        compiled = statement.compiled(self.dialect)
        arguments = compiled.arguments(values)
        return await self._run(compiled, lambda: self._driver.execute(compiled.sql, arguments))

    async def execute_many(self, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a statement once per row of values, in one call to the driver."""
        compiled = statement.compiled(self.dialect)
        arguments = [compiled.arguments(values) for values in rows]
        await self._run(compiled, lambda: self._driver.execute_many(compiled.sql, arguments))


class Repository:
    """A repository on its unit of work's session: fetch, insert, update with translation."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    async def _execute(self, statement: Statement, values: Mapping[str, Any]) -> int:
        return await self._session.execute(statement, values)

    async def _first(self, statement: Statement, **params: Any) -> Row | None:
        rows = await self._session.fetch(statement, params)
        return rows[0] if rows else None

    async def _all(self, statement: Statement, **params: Any) -> list[Row]:
        return await self._session.fetch(statement, params)

    async def _insert_id(self, statement: Statement, values: Mapping[str, Any]) -> int:
        (row,) = await self._session.fetch(statement, values)
        new_id: int = row["id"]
        return new_id

    async def _update(self, statement: Statement, params: Mapping[str, Any], what: str) -> None:
        if await self._session.execute(statement, params) == 0:
            raise RowNotFound(f"no {what} to update")
