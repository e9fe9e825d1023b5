"""Group commit on SQLite (vending_core.adapters.groupcommit): shared COMMITs, honest answers.

Concurrent units of work of one factory run one after another in one write transaction and
share its COMMIT; each ``commit()`` returns only once that COMMIT is done, a failing unit
takes only its own work back, and a failed COMMIT fails every unit of its batch. The
statements SQLite executes are traced on the connection itself (``set_trace_callback``), with
the thread that ran each, so the tests see what really reached the database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from vending_core.adapters.driver import Statement
from vending_core.adapters.groupcommit import GroupCommitError
from vending_core.adapters.meters import SqlMeterRepository
from vending_core.adapters.sql import SqlUnitOfWork, sql_uow_factory
from vending_core.domain.model import Meter
from vending_core.service import ports

Traced = list[tuple[str, int]]
_DEFER_FOREIGN_KEYS = Statement(text("PRAGMA defer_foreign_keys = ON"))


@pytest.fixture
def traced(sqlite_engine: AsyncEngine) -> Traced:
    """(SQL, thread id) of every statement SQLite runs on the engine's connections."""
    seen: Traced = []

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        raw: sqlite3.Connection = dbapi_connection.driver_connection._conn
        raw.set_trace_callback(lambda sql: seen.append((sql, threading.get_ident())))

    event.listen(sqlite_engine.sync_engine, "connect", on_connect)
    return seen


def _path(engine: AsyncEngine) -> str:
    database = engine.url.database
    assert database is not None
    return database


def _stored_request_ids(path: str) -> list[str]:
    """The request ids committed, read by a connection of its own (not the engine's)."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT request_id FROM requests ORDER BY request_id")
        return [row[0] for row in rows]


def _commits(traced: Traced) -> int:
    return sum(1 for sql, _ in traced if sql == "COMMIT")


async def _together(*units: Callable[[], Awaitable[object]]) -> list[object]:
    """Start the coroutines at once; results or exceptions, in order."""
    return await asyncio.gather(*(unit() for unit in units), return_exceptions=True)


async def test_concurrent_units_share_one_commit_and_each_sees_it_done(
    sqlite_engine: AsyncEngine, traced: Traced
) -> None:
    """Ten units of work started together: one COMMIT; each commit() returns after it.

    The first unit takes the turn; the other nine queue on it while the first one's first
    statement runs, so all ten land in one batch and SQLite sees exactly one COMMIT. Each
    unit checks, right after its own commit() returned, that a separate connection reads
    its row: committed, not merely released into the open transaction.
    """
    new_uow = sql_uow_factory(sqlite_engine)
    path = _path(sqlite_engine)
    visible: dict[str, bool] = {}

    async def unit(name: str) -> None:
        async with new_uow() as uow:
            assert await uow.requests.claim("c", name, "f") is True
            await uow.commit()
        visible[name] = name in await asyncio.to_thread(_stored_request_ids, path)

    names = [f"r{i}" for i in range(10)]
    assert await _together(*(lambda n=n: unit(n) for n in names)) == [None] * 10
    assert visible == dict.fromkeys(names, True)
    assert _commits(traced) == 1
    assert await asyncio.to_thread(_stored_request_ids, path) == names


async def test_a_failing_unit_takes_back_only_its_own_work(
    sqlite_engine: AsyncEngine, traced: Traced
) -> None:
    """In one batch, a unit that raises is rolled back to its savepoint; the others commit."""
    new_uow = sql_uow_factory(sqlite_engine)

    async def unit(name: str, fail: bool) -> None:
        async with new_uow() as uow:
            await uow.requests.claim("c", name, "f")
            if fail:
                raise RuntimeError(name)
            await uow.commit()

    results = await _together(
        lambda: unit("a", False), lambda: unit("b", True), lambda: unit("c", False)
    )
    assert results[0] is None
    assert isinstance(results[1], RuntimeError)
    assert results[2] is None
    assert await asyncio.to_thread(_stored_request_ids, _path(sqlite_engine)) == ["a", "c"]
    assert _commits(traced) == 1
    sent = [sql for sql, _ in traced]
    assert "ROLLBACK TO vendgate_unit" in sent


async def _claim_with_a_broken_meter(uow: ports.UnitOfWork, name: str) -> None:
    """Claim ``name`` and add a meter on an unknown supply group, checked only at COMMIT.

    ``PRAGMA defer_foreign_keys`` moves the foreign-key check to COMMIT, so the batch's
    COMMIT fails (SQLite: "FOREIGN KEY constraint failed").
    """
    assert isinstance(uow, SqlUnitOfWork)
    assert isinstance(uow.meters, SqlMeterRepository)
    await uow.requests.claim("c", name, "f")
    await uow.meters._session.execute(_DEFER_FOREIGN_KEYS, {})  # the unit of work's session
    await uow.meters.add(
        Meter(number="1", pan="600727000000000001", sgc="999999", ti=1, krn=1, tariff_code="X")
    )


async def test_a_failed_commit_fails_every_unit_of_the_batch(sqlite_engine: AsyncEngine) -> None:
    """When the shared COMMIT fails, every unit's commit() raises and nothing is stored."""
    new_uow = sql_uow_factory(sqlite_engine)

    async def good(name: str) -> None:
        async with new_uow() as uow:
            await uow.requests.claim("c", name, "f")
            await uow.commit()

    async def bad() -> None:
        async with new_uow() as uow:
            await _claim_with_a_broken_meter(uow, "bad")
            await uow.commit()

    results = await _together(lambda: good("a"), bad, lambda: good("c"))
    assert [type(result) for result in results] == [GroupCommitError] * 3
    assert await asyncio.to_thread(_stored_request_ids, _path(sqlite_engine)) == []
    async with new_uow() as uow:  # the connection is usable again
        assert await uow.requests.claim("c", "after", "f") is True
        await uow.commit()
    assert await asyncio.to_thread(_stored_request_ids, _path(sqlite_engine)) == ["after"]


async def test_a_duplicate_that_read_an_unfinished_batch_fails_with_it(
    sqlite_engine: AsyncEngine,
) -> None:
    """A unit that saw a batch member's claim (a duplicate) does not return before the COMMIT.

    Here the COMMIT fails, so the duplicate's answer ("already claimed") was never true:
    its ``async with`` raises instead of letting it replay a vend that is not stored.
    """
    new_uow = sql_uow_factory(sqlite_engine)
    duplicate_saw: list[bool] = []

    async def first() -> None:
        async with new_uow() as uow:
            await _claim_with_a_broken_meter(uow, "same")
            await uow.commit()

    async def duplicate() -> None:
        async with new_uow() as uow:
            duplicate_saw.append(await uow.requests.claim("c", "same", "f"))

    results = await _together(first, duplicate)
    assert duplicate_saw == [False]  # it did see the first claim, inside the batch
    assert [type(result) for result in results] == [GroupCommitError] * 2


async def test_only_begin_and_commit_leave_the_event_loop(
    sqlite_engine: AsyncEngine, traced: Traced
) -> None:
    """Inside a turn statements run inline; the first write (with BEGIN) and COMMIT do not.

    The claim carries sqlite3's own ``BEGIN IMMEDIATE`` and may wait for another process's
    lock, and COMMIT fsyncs: both run in the connection's thread. The reads and writes in
    between hold the write lock already and run on the event loop's thread.
    """
    loop_thread = threading.get_ident()
    async with sql_uow_factory(sqlite_engine)() as uow:
        await uow.requests.claim("c", "r", "f")
        await uow.requests.get("c", "r")
        await uow.requests.complete("c", "r", "{}", None)
        await uow.commit()
    statements = [(sql.split()[0], thread == loop_thread) for sql, thread in traced]
    assert statements[-5:] == [
        ("BEGIN", False),
        ("INSERT", False),
        ("SELECT", True),
        ("UPDATE", True),
        ("COMMIT", False),
    ]
