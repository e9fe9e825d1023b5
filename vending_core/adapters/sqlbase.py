"""Plumbing shared by the SQL repositories: bound-key statements and error translation.

Statements are built once, at import, with bound parameters (``k_<column>`` name the key
columns, so they never clash with the values of the columns being set); values travel as
execution parameters. SQLAlchemy then reuses its compiled form and asyncpg its prepared
statement: a repository call costs one round trip and little Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Insert,
    RowMapping,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from vending_core.adapters.errors import ConstraintViolation, DuplicateTid, RowNotFound

__all__ = [
    "Clock",
    "Repository",
    "by_id",
    "key_clause",
    "locked",
    "select_where",
    "stored_id",
]

Clock = Callable[[], datetime]

_TID_INDEX_MARKERS = ("uq_vend_tokens_meter_id_tid", "vend_tokens.meter_id, vend_tokens.tid")


def key_clause(table: Table, *columns: str) -> ColumnElement[bool]:
    """``column = :k_column AND ...``: a WHERE clause on bound key parameters."""
    return and_(*(table.c[name] == bindparam(f"k_{name}") for name in columns))


def select_where(table: Table, *columns: str) -> Select[Any]:
    """``SELECT * FROM table WHERE`` the key columns equal their ``k_*`` parameters."""
    return select(table).where(key_clause(table, *columns))


def locked(statement: Select[Any]) -> Select[Any]:
    """The statement with ``FOR UPDATE`` (rendered as nothing on SQLite)."""
    return statement.with_for_update()


def by_id(table: Table) -> tuple[Insert, Select[Any], Update]:
    """Insert returning the new id, select by id, update by id."""
    return (
        insert(table).returning(table.c.id),
        select_where(table, "id"),
        update(table).where(key_clause(table, "id")),
    )


def _translate(exc: IntegrityError) -> ConstraintViolation:
    message = str(exc.orig)
    if any(marker in message for marker in _TID_INDEX_MARKERS):
        return DuplicateTid(f"a token repeats a TID already issued to this meter: {message}")
    return ConstraintViolation(f"the database refused the row: {message}")


def stored_id(entity_id: int | None, what: str) -> int:
    """The id of an entity to update; ValueError if it was never stored."""
    if entity_id is None:
        raise ValueError(f"cannot update a {what} that was never stored (id is None)")
    return entity_id


class Repository:
    """A repository on one connection: execute with error translation, fetch, insert, update."""

    __slots__ = ("_conn",)

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def _execute(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        try:
            return await self._conn.execute(statement, params)
        except IntegrityError as exc:
            raise _translate(exc) from exc
        except StatementError as exc:
            # A value our column types refuse (a naive datetime, a float for a Decimal):
            # raise the ValueError/TypeError itself, not SQLAlchemy's wrapper.
            if isinstance(exc.orig, TypeError):
                raise TypeError(str(exc.orig)) from None
            if isinstance(exc.orig, ValueError):
                raise ValueError(str(exc.orig)) from None
            raise

    async def _first(self, statement: Select[Any], **params: Any) -> RowMapping | None:
        row: RowMapping | None = (await self._execute(statement, params)).mappings().first()
        return row

    async def _all(self, statement: Select[Any], **params: Any) -> Sequence[RowMapping]:
        found: Sequence[RowMapping] = (await self._execute(statement, params)).mappings().all()
        return found

    async def _insert_id(self, statement: Insert, values: dict[str, Any]) -> int:
        new_id: int = (await self._execute(statement, values)).scalar_one()
        return new_id

    async def _update(self, statement: Update, params: dict[str, Any], what: str) -> None:
        if (await self._execute(statement, params)).rowcount == 0:
            raise RowNotFound(f"no {what} to update")
