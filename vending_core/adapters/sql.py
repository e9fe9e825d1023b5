"""The SQL unit of work: every repository on one connection, in one transaction.

Use::

    engine = create_engine(settings.database_url)        # vending_core.adapters.db
    uow_factory = sql_uow_factory(engine)                 # a ports.UnitOfWorkFactory
    async with uow_factory() as uow:
        meter = await uow.meters.get_by_number(number, lock=True)
        ...
        await uow.commit()                                # otherwise: rolled back

Entering checks a connection out of the engine's pool; the first statement begins the
transaction (``BEGIN IMMEDIATE`` on SQLite, which sqlite3 sends with the statement itself when
it writes, e.g. the idempotency claim; READ COMMITTED on PostgreSQL). Leaving rolls back
whatever was not committed and returns the connection (or, if the rollback failed, discards
it). After :meth:`SqlUnitOfWork.commit` the unit of work may go on: the next statement begins
a new transaction.

The unit of work drives the pooled connection's driver (aiosqlite, asyncpg) directly, with
statements SQLAlchemy compiled once per dialect (:mod:`vending_core.adapters.driver`):
SQLAlchemy provides the pool, the connection setup (:mod:`vending_core.adapters.db`), the
schema and the SQL, but not the per-statement execution layer, which cost several times the
database's own time on the vending hot path.

Errors: see :mod:`vending_core.adapters.errors` (``DuplicateTid``, ``ConstraintViolation``,
``RowNotFound``); they are re-exported here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vending_core.adapters.driver import driver_for
from vending_core.adapters.errors import (
    ConstraintViolation,
    DuplicateTid,
    RepositoryError,
    RowNotFound,
)
from vending_core.adapters.ledger import SqlRequestRepository, SqlVendRepository
from vending_core.adapters.repositories import (
    SqlCustomerRepository,
    SqlDebtRepository,
    SqlMaintenanceRepository,
    SqlMeterRepository,
    SqlSupplyGroupRepository,
    SqlTariffRepository,
    SqlVendorRepository,
)
from vending_core.adapters.sqlbase import Clock, Observer, Session
from vending_core.service import ports

__all__ = [
    "ConstraintViolation",
    "DuplicateTid",
    "RepositoryError",
    "RowNotFound",
    "SqlUnitOfWork",
    "sql_uow_factory",
    "utc_now",
]

_LOG = logging.getLogger("sqlalchemy.engine.Engine")  # where echo=True logs SQLAlchemy's SQL
#: How long a SQLite unit of work waits for the writer lock before it goes on without it and
#: leaves the waiting to SQLite's own busy timeout (a unit of work nested in another, say).
WRITER_WAIT_S: Final = 30.0


def utc_now() -> datetime:
    """The current time, aware UTC (the default clock for stored-at times)."""
    return datetime.now(UTC)


class SqlUnitOfWork:
    """``ports.UnitOfWork`` over one pooled connection of ``engine``.

    Args:
        engine: From :func:`vending_core.adapters.db.create_engine`.
        clock: Time source for rows the adapter dates itself (an idempotency key's
            ``created_at``).
        observe: Called with the SQL of every statement (tests count them); with the
            engine's ``echo`` on, statements are also logged.
        writers: SQLite: the lock the units of work of one factory take before they check
            out a connection, held until it is back in the pool. SQLite runs one writer at a
            time anyway (``BEGIN IMMEDIATE``); with the lock this process's units of work
            queue in asyncio and start the moment the previous one is done, instead of
            sleeping in SQLite's busy handler (it backs off up to 100 ms at a time), and hold
            one pooled connection, not one each while they wait. Other processes still wait
            on ``BEGIN IMMEDIATE`` and ``busy_timeout``: the lock orders this process's
            units of work, the database still enforces exclusion. None: no lock.
    """

    meters: ports.MeterRepository
    customers: ports.CustomerRepository
    tariffs: ports.TariffRepository
    supply_groups: ports.SupplyGroupRepository
    debts: ports.DebtRepository
    vendors: ports.VendorRepository
    vends: ports.VendRepository
    requests: ports.RequestRepository
    maintenance: ports.MaintenanceRepository

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock = utc_now,
        observe: Observer | None = None,
        writers: asyncio.Lock | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._observe = observe if observe is not None or not engine.echo else _log_statement
        self._writers = writers
        self._holding = False
        self._connection: AsyncConnection | None = None
        self._session: Session | None = None

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in use")
        self._holding = self._writers is not None and await _acquire(self._writers)
        try:
            self._connection, session = await self._open()
        except BaseException:
            self._release()
            raise
        self._session = session
        self._bind(session)
        return self

    async def _open(self) -> tuple[AsyncConnection, Session]:
        """Check a connection out of the pool and wrap its driver connection in a session."""
        connection = await self._engine.connect()
        try:
            # Checked out already: the pooled connection is read without another greenlet
            # switch (which ``get_raw_connection`` would cost).
            sync = connection.sync_connection
            pooled = sync.connection if sync else await connection.get_raw_connection()
            driver = driver_for(connection.dialect, pooled.driver_connection)
        except BaseException:
            await connection.close()
            raise
        return connection, Session(driver, connection.dialect, observe=self._observe)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        session, self._session = self._session, None
        if connection is None or session is None:
            return
        ended = False
        try:
            await session.rollback()
            ended = not session.in_transaction()
        finally:
            try:
                if not ended:
                    # Never hand a connection that may still be in a transaction to the pool.
                    await connection.invalidate()
                await connection.close()
            finally:
                self._release()

    async def commit(self) -> None:
        """Commit everything done so far in this unit of work."""
        if self._session is None:
            raise RuntimeError("commit outside 'async with' of the unit of work")
        await self._session.commit()

    def _bind(self, session: Session) -> None:
        self.meters = SqlMeterRepository(session)
        self.customers = SqlCustomerRepository(session)
        self.tariffs = SqlTariffRepository(session)
        self.supply_groups = SqlSupplyGroupRepository(session)
        self.debts = SqlDebtRepository(session)
        self.vendors = SqlVendorRepository(session)
        self.vends = SqlVendRepository(session)
        self.requests = SqlRequestRepository(session, self._clock)
        self.maintenance = SqlMaintenanceRepository(session)

    def _release(self) -> None:
        if self._holding and self._writers is not None:
            self._holding = False
            self._writers.release()


async def _acquire(lock: asyncio.Lock) -> bool:
    """Take ``lock``; False (not taken) after WRITER_WAIT_S, leaving the wait to SQLite."""
    if not lock.locked():  # the common case: no timer to set up
        await lock.acquire()
        return True
    try:
        async with asyncio.timeout(WRITER_WAIT_S):
            await lock.acquire()
    except TimeoutError:
        return False
    return True


def _log_statement(sql: str) -> None:
    _LOG.info(sql)


def sql_uow_factory(
    engine: AsyncEngine, *, clock: Clock = utc_now, observe: Observer | None = None
) -> Callable[[], SqlUnitOfWork]:
    """A ``ports.UnitOfWorkFactory``: each call makes a new :class:`SqlUnitOfWork`.

    On SQLite the units of work of one factory share the in-process writer lock.
    """
    writers = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    def factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock=clock, observe=observe, writers=writers)

    return factory
