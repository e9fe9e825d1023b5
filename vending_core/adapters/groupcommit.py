"""Group commit for SQLite: units of work of one process share write transactions.

SQLite runs one writer at a time, and with ``synchronous=FULL`` every ``COMMIT`` waits for an
fsync of the WAL (0.5-1 ms on the benchmark machine, a third of a vend). The standard remedy
is group commit: concurrent units of work run one after another inside one transaction, and
one ``COMMIT`` (one fsync) makes all of them durable.

How it works (:class:`GroupCommit`, one per unit-of-work factory):

* A unit of work takes the factory's turn lock when it enters (an ``asyncio.Lock``; the other
  units queue on it in asyncio, not in SQLite's busy handler). Holding the turn, it runs on
  the batch's connection: one pooled connection that stays checked out while a batch is open.
* The first unit of a batch opens the transaction with ``BEGIN IMMEDIATE`` (sent by sqlite3
  with its first write, or on its own before a read) in the connection's thread: that is
  where another process's write lock is waited for (``busy_timeout``). Every later unit of
  the batch runs inside ``SAVEPOINT``: ``RELEASE`` when it commits, ``ROLLBACK TO`` when it
  fails, so a failed unit never takes the others' work with it.
* While the turn is held the transaction holds SQLite's write lock, so statements cannot
  wait for anyone: they run inline on the ``sqlite3`` connection, without the thread hop
  (80-135 µs) that aiosqlite spends on each. Only the calls that can wait or fsync -- the
  first statement with its ``BEGIN IMMEDIATE``, ``COMMIT``, ``ROLLBACK`` -- go through the
  connection's thread; the event loop never blocks on a lock wait or an fsync.
* A unit that ends its turn passes the turn on while other units are waiting for it (up to
  ``max_batch`` units per batch). When none is waiting, the batch is committed (one fsync)
  and the connection goes back to the pool. ``commit()`` of a unit of work returns only once
  that ``COMMIT`` succeeded; a failed ``COMMIT`` fails the ``commit()`` of every unit of the
  batch (:class:`GroupCommitError`), and their work is rolled back. A unit of work that only
  read, or left without committing, still waits for the batch it ran in before it returns,
  because it may have read a batch member's work (a replayed idempotent result, say) that is
  not durable yet.

Other processes are unaffected: they wait on ``BEGIN IMMEDIATE`` and ``busy_timeout`` as
before (the database, not this lock, keeps processes apart), and a batch ends after at most
``max_batch`` units, so the write lock is released regularly.

The ``sqlite3`` connection is reached through ``aiosqlite.Connection._conn``, the attribute
SQLAlchemy's own aiosqlite dialect uses; the connection is opened with
``check_same_thread=False`` (SQLAlchemy's default for files), and the turn guarantees that
the connection's thread has nothing queued whenever a statement runs inline.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vending_core.adapters.errors import GroupCommitError, RepositoryError

__all__ = ["MAX_BATCH", "GroupCommit", "GroupCommitError", "TurnDriver"]

#: Units of work committed together at most (bounds the time another process waits).
MAX_BATCH: Final = 64
_SAVEPOINT: Final = "vendgate_unit"


class _Batch:
    """One checked-out connection and the transaction its units of work share."""

    __slots__ = ("aio", "broken", "connection", "done", "members", "raw")

    def __init__(self, connection: AsyncConnection, aio: Any) -> None:
        self.connection = connection
        self.aio = aio  #: the aiosqlite connection (calls go through its thread)
        self.raw: sqlite3.Connection = aio._conn  # as SQLAlchemy's dialect does
        self.members = 0  #: units whose committed work is in the open transaction
        self.broken = False  #: a rollback of a unit failed: the batch must fail
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, engine: AsyncEngine) -> _Batch:
        connection = await engine.connect()
        try:
            sync = connection.sync_connection
            pooled = sync.connection if sync else await connection.get_raw_connection()
            return cls(connection, pooled.driver_connection)
        except BaseException:
            await connection.close()
            raise

    def lost(self) -> bool:
        """Whether the batch must fail: broken, or SQLite rolled its transaction back itself."""
        return self.broken or (self.members > 0 and not self.raw.in_transaction)

    async def close(self) -> None:
        """Commit the members' work (else roll back what is open); answer them; return it."""
        error: BaseException | None = None
        try:
            if self.broken:
                raise RepositoryError("a unit of work in the batch could not be rolled back")
            if self.members:
                await self.aio.execute("COMMIT", ())  # raises if the transaction was lost
            elif self.raw.in_transaction:
                await self.aio.execute("ROLLBACK", ())
        except BaseException as exc:
            error = exc
        try:
            await self._give_back()  # first: a member may dispose of the engine once answered
        finally:
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(GroupCommitError(f"the group commit failed: {error!r}"))
                self.done.exception()  # retrieved: members that were cancelled never ask
        if error is not None and not isinstance(error, Exception):
            raise error  # cancellation and the like, after the members were answered

    async def _give_back(self) -> None:
        try:
            if self.raw.in_transaction:
                await self.aio.execute("ROLLBACK", ())
        finally:
            if self.raw.in_transaction:  # never hand a connection in a transaction to the pool
                await self.connection.invalidate()
            await self.connection.close()


class GroupCommit:
    """The turn lock and the open batch of one SQLite unit-of-work factory.

    Args:
        engine: The SQLite engine whose pool lends the batch connections.
        max_batch: Units of work committed together at most (1: each commits on its own).

    Raises:
        ValueError: ``max_batch`` below 1.
    """

    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._engine = engine
        self._max_batch = max_batch
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._batch: _Batch | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def acquire(self, wait_s: float) -> bool:
        """Take the turn; False (not taken) after ``wait_s`` seconds."""
        self._waiting += 1
        try:
            if not self._lock.locked():  # the common case: no timer to set up
                await self._lock.acquire()
            else:
                async with asyncio.timeout(wait_s):
                    await self._lock.acquire()
        except TimeoutError:
            return False
        finally:
            self._waiting -= 1
        return True

    async def batch(self) -> _Batch:
        """The open batch, or a new one (the turn must be held)."""
        batch = self._batch
        if batch is not None and batch.lost():
            self._batch = None
            await batch.close()  # fails its members: COMMIT outside a transaction
            batch = None
        if batch is None:
            batch = self._batch = await _Batch.open(self._engine)
        return batch

    def end_turn(self) -> _Batch | None:
        """Pass the turn on; when no unit of work waits for it, first close the batch.

        Returns the batch being closed, if any.
        """
        batch = self._batch
        if batch is None or (
            self._waiting and batch.members < self._max_batch and not batch.lost()
        ):
            self._lock.release()
            return None
        self._batch = None
        task = asyncio.get_running_loop().create_task(self._close(batch))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return batch

    async def _close(self, batch: _Batch) -> None:
        try:
            await batch.close()
        finally:
            self._lock.release()


class TurnDriver:
    """The :class:`~vending_core.adapters.driver.Driver` of one unit of work in group commit.

    A transaction of the unit of work is a turn in a batch (see the module docstring):
    ``begin`` takes the turn if the unit does not hold it, ``commit`` releases its savepoint,
    ends the turn and waits for the batch's ``COMMIT``.

    Args:
        group: The factory's group commit.
        holding: Whether the unit of work holds the turn already (taken on entering).
        wait_s: How long ``begin`` waits for the turn before it gives up.
    """

    __slots__ = ("_batch", "_fold", "_group", "_holding", "_last", "_savepoint", "_wait_s")

    def __init__(self, group: GroupCommit, *, holding: bool, wait_s: float) -> None:
        self._group = group
        self._holding = holding
        self._wait_s = wait_s
        self._batch: _Batch | None = None  #: the batch of the turn in progress
        self._last: _Batch | None = None  #: the batch of the last turn, to wait for
        self._savepoint = False
        self._fold = False

    async def begin(self, *, before_write: bool = False) -> bool:
        """Start a turn; True if a begin was sent, False if the write that follows begins."""
        if not self._holding:
            if not await self._group.acquire(self._wait_s):
                raise RepositoryError(f"no turn to write within {self._wait_s} s")
            self._holding = True
        batch = await self._group.batch()
        self._batch, self._last = batch, None
        if batch.raw.in_transaction:  # members before this one: a savepoint of its own
            batch.raw.execute(f"SAVEPOINT {_SAVEPOINT}")
            self._savepoint = True
            return True
        self._savepoint = False
        if before_write and batch.aio.isolation_level == "IMMEDIATE":
            self._fold = True  # sqlite3 begins IMMEDIATE itself, with the write (db module)
            return False
        await batch.aio.execute("BEGIN IMMEDIATE", ())
        return True

    def _raw(self) -> sqlite3.Connection | None:
        """The connection to run on inline, or None: through its thread (the first write).

        Raises:
            RepositoryError: SQLite ended the transaction itself (after a full disk, say).
        """
        batch = self._batch
        if batch is None:
            raise RuntimeError("a statement outside a transaction of the unit of work")
        if self._fold:
            self._fold = False
            return None
        if not batch.raw.in_transaction:
            raise RepositoryError("the database rolled the transaction back after an error")
        return batch.raw

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> Sequence[Sequence[Any]]:
        """All rows of the statement."""
        raw = self._raw()
        if raw is None:
            rows: Sequence[Sequence[Any]] = await self._aio().execute_fetchall(sql, arguments)
            return rows
        return raw.execute(sql, arguments).fetchall()

    async def execute(self, sql: str, arguments: Sequence[Any]) -> int:
        """The statement's changed-row count."""
        raw = self._raw()
        if raw is None:
            cursor = await self._aio().execute(sql, arguments)
            count: int = cursor.rowcount
            return count
        return raw.execute(sql, arguments).rowcount

    async def execute_many(self, sql: str, arguments: Sequence[Sequence[Any]]) -> None:
        """``executemany``."""
        raw = self._raw()
        if raw is None:
            await self._aio().executemany(sql, arguments)
        else:
            raw.executemany(sql, arguments)

    def _aio(self) -> Any:
        if self._batch is None:  # pragma: no cover - _raw checked it
            raise RuntimeError("no batch")
        return self._batch.aio

    async def commit(self) -> None:
        """Keep the turn's work in the batch, end the turn, wait for the batch's COMMIT."""
        batch = self._batch
        if batch is None:
            return
        if self._savepoint:
            batch.raw.execute(f"RELEASE {_SAVEPOINT}")
        batch.members += 1
        self.release()
        await self.settled()

    async def rollback(self) -> None:
        """Undo the turn's work (its savepoint, or the transaction it began) and end it."""
        batch = self._batch
        self._fold = False
        if batch is None:
            return
        try:
            if self._savepoint:
                if batch.raw.in_transaction:  # else lost: the batch fails at its end
                    batch.raw.execute(f"ROLLBACK TO {_SAVEPOINT}")
                    batch.raw.execute(f"RELEASE {_SAVEPOINT}")
            else:  # in the thread, after whatever it still runs (a cancelled BEGIN, say)
                await batch.aio.rollback()
        except BaseException:
            batch.broken = True  # unknown state: the batch fails, never commits
            raise
        finally:
            self.release()

    def release(self) -> None:
        """End the turn, if held (idempotent)."""
        if self._holding:
            self._holding = False
            closing = self._group.end_turn()
            self._last = self._batch or closing
            self._batch = None

    async def settled(self, *, raise_error: bool = True) -> None:
        """Wait until the batch of the last turn is committed and its connection given back.

        Raises:
            GroupCommitError: The batch's COMMIT failed (unless not ``raise_error``).
        """
        last, self._last = self._last, None
        if last is None:
            return
        if raise_error:
            await asyncio.shield(last.done)
        else:
            await asyncio.wait([last.done])

    def in_transaction(self) -> bool:
        """Whether a turn is in progress."""
        return self._batch is not None

    def is_integrity_error(self, error: BaseException) -> bool:
        """``sqlite3.IntegrityError``."""
        return isinstance(error, sqlite3.IntegrityError)
