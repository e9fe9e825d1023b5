"""The SQL unit of work: every repository on one connection, in one transaction.

Use::

    engine = create_engine(settings.database_url)        # vending_core.adapters.db
    uow_factory = sql_uow_factory(engine)                 # a ports.UnitOfWorkFactory
    async with uow_factory() as uow:
        meter = await uow.meters.get_by_number(number, lock=True)
        ...
        await uow.commit()                                # otherwise: rolled back

On PostgreSQL entering checks a connection out of the engine's pool; the first statement
begins the transaction (READ COMMITTED). Leaving rolls back whatever was not committed and
returns the connection (or, if the rollback failed, discards it). After
:meth:`SqlUnitOfWork.commit` the unit of work may go on: the next statement begins a new
transaction.

On SQLite the units of work of one factory use group commit
(:mod:`vending_core.adapters.groupcommit`): entering takes the factory's turn, and the unit's
transaction is a turn in a write transaction shared with the units that run just before and
after it (``BEGIN IMMEDIATE``, which sqlite3 sends with the first statement when it writes,
e.g. the idempotency claim; then one ``SAVEPOINT`` per unit). Its statements run inline on
the sqlite3 connection; :meth:`SqlUnitOfWork.commit` returns once the shared ``COMMIT`` is
durable. A unit of work that cannot get the turn within ``WRITER_WAIT_S`` (one nested in
another, say) runs on a connection of its own as PostgreSQL's do, waiting in SQLite's busy
timeout.

The unit of work drives the pooled connection's driver (aiosqlite, asyncpg) directly, with
statements SQLAlchemy compiled once per dialect (:mod:`vending_core.adapters.driver`):
SQLAlchemy provides the pool, the connection setup (:mod:`vending_core.adapters.db`), the
schema and the SQL, but not the per-statement execution layer, which cost several times the
database's own time on the vending hot path.

Errors: see :mod:`vending_core.adapters.errors` (``DuplicateTid``, ``ConstraintViolation``,
``RowNotFound``); they are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vending_core.adapters.admin_sql import SqlAdminRepository
from vending_core.adapters.agents_sql import SqlAgentRepository
from vending_core.adapters.api_sql import SqlApiClientRepository
from vending_core.adapters.driver import Driver, driver_for
from vending_core.adapters.errors import (
    ConstraintViolation,
    DuplicateTid,
    RepositoryError,
    RowNotFound,
)
from vending_core.adapters.groupcommit import MAX_BATCH, GroupCommit, GroupCommitError, TurnDriver
from vending_core.adapters.ledger import SqlRequestRepository, SqlVendRepository
from vending_core.adapters.ledger_audit_sql import SqlLedgerAuditRepository
from vending_core.adapters.outbox_sql import SqlOutboxRepository, SqlProfileRepository
from vending_core.adapters.payments_sql import SqlPaymentRepository, SqlWalletRepository
from vending_core.adapters.reader import AutocommitReads, ReadDriver, SqliteReader
from vending_core.adapters.reports_sql import SqlReportRepository
from vending_core.adapters.repositories import (
    SqlCustomerRepository,
    SqlDebtRepository,
    SqlMaintenanceRepository,
    SqlMeterRepository,
    SqlSupplyGroupRepository,
    SqlTariffRepository,
    SqlVendorRepository,
)
from vending_core.adapters.shifts_sql import SqlShiftRepository
from vending_core.adapters.sqlbase import Clock, Observer, Session
from vending_core.adapters.vouchers_sql import SqlVoucherRepository
from vending_core.service import ports

__all__ = [
    "ConstraintViolation",
    "DuplicateTid",
    "GroupCommitError",
    "RepositoryError",
    "RowNotFound",
    "SqlUnitOfWork",
    "sql_uow_factory",
    "utc_now",
]

_LOG = logging.getLogger("sqlalchemy.engine.Engine")  # where echo=True logs SQLAlchemy's SQL
#: How long a SQLite unit of work waits for its turn before it goes on without it and leaves
#: the waiting to SQLite's own busy timeout (a unit of work nested in another, say).
WRITER_WAIT_S: Final = 30.0


def utc_now() -> datetime:
    """The current time, aware UTC (the default clock for stored-at times)."""
    return datetime.now(UTC)


def _closed(connection: AsyncConnection) -> bool:
    """Whether the driver's connection is closed (asyncpg knows; sqlite3 connections are not)."""
    sync = connection.sync_connection
    pooled = sync.connection if sync else None
    is_closed = getattr(getattr(pooled, "driver_connection", None), "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


class SqlUnitOfWork:
    """``ports.UnitOfWork`` over one pooled connection of ``engine``.

    Args:
        engine: From :func:`vending_core.adapters.db.create_engine`.
        clock: Time source for rows the adapter dates itself (an idempotency key's
            ``created_at``).
        observe: Called with the SQL of every statement (tests count them); with the
            engine's ``echo`` on, statements are also logged.
        group: SQLite: the group commit shared by the units of work of one factory. SQLite
            runs one writer at a time anyway (``BEGIN IMMEDIATE``); with it this process's
            units of work queue in asyncio and start the moment the previous one is done,
            instead of sleeping in SQLite's busy handler (it backs off up to 100 ms at a
            time), share one connection, and share one ``COMMIT`` (fsync) when they come
            together. Other processes still wait on ``BEGIN IMMEDIATE`` and
            ``busy_timeout``: the turn orders this process's units of work, the database
            still enforces exclusion. None: a connection and transaction of its own.
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
    outbox: ports.OutboxRepository
    profiles: ports.ProfileRepository
    payments: ports.PaymentRepository
    wallets: ports.WalletRepository
    vouchers: ports.VoucherRepository
    agents: ports.AgentRepository
    api_clients: ports.ApiClientRepository
    admin: ports.AdminRepository
    ledger_audit: ports.LedgerAuditRepository
    shifts: ports.ShiftRepository
    reports: ports.ReportRepository

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock = utc_now,
        observe: Observer | None = None,
        group: GroupCommit | None = None,
        reader: SqliteReader | None = None,
        read_only: bool = False,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._observe = observe if observe is not None or not engine.echo else _log_statement
        self._group = group
        self._reader = reader
        self._read_only = read_only
        self._turns: TurnDriver | None = None
        self._connection: AsyncConnection | None = None
        self._session: Session | None = None

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already in use")
        if self._reader is not None:
            driver = ReadDriver(await self._reader.raw())
            session = Session(driver, self._engine.dialect, observe=self._observe)
        elif self._group is not None and await self._group.acquire(WRITER_WAIT_S):
            self._turns = TurnDriver(self._group, holding=True, wait_s=WRITER_WAIT_S)
            session = Session(self._turns, self._engine.dialect, observe=self._observe)
        else:
            self._connection, session = await self._open()
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
            driver: Driver = driver_for(connection.dialect, pooled.driver_connection)
            if self._read_only:
                driver = AutocommitReads(driver)
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
        turns, self._turns = self._turns, None
        if turns is not None and session is not None:
            try:
                await session.rollback()
            finally:
                turns.release()
            # What it read must be durable before it is acted on (an error is raised anyway).
            await turns.settled(raise_error=exc_type is None)
            return
        if connection is None or session is None:
            return
        ended = False
        try:
            await session.rollback()
            ended = not session.in_transaction() and not _closed(connection)
        finally:
            if not ended:
                # Never hand a connection that may still be in a transaction, or that the
                # server or the network closed (it would fail every later unit of work that
                # drew it), back to the pool.
                await connection.invalidate()
            await connection.close()

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
        self.outbox = SqlOutboxRepository(session)
        self.profiles = SqlProfileRepository(session)
        self.payments = SqlPaymentRepository(session)
        self.wallets = SqlWalletRepository(session)
        self.vouchers = SqlVoucherRepository(session)
        self.agents = SqlAgentRepository(session)
        self.api_clients = SqlApiClientRepository(session)
        self.admin = SqlAdminRepository(session)
        self.ledger_audit = SqlLedgerAuditRepository(session)
        self.shifts = SqlShiftRepository(session)
        self.reports = SqlReportRepository(session)


def _log_statement(sql: str) -> None:
    _LOG.info(sql)


def sql_uow_factory(
    engine: AsyncEngine,
    *,
    clock: Clock = utc_now,
    observe: Observer | None = None,
    max_batch: int = MAX_BATCH,
) -> Callable[[], SqlUnitOfWork]:
    """A ``ports.UnitOfWorkFactory``: each call makes a new :class:`SqlUnitOfWork`.

    On SQLite the units of work of one factory share one group commit, which commits at
    most ``max_batch`` of them together (1: every unit of work commits on its own).
    """
    group = GroupCommit(engine, max_batch=max_batch) if engine.dialect.name == "sqlite" else None

    def factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock=clock, observe=observe, group=group)

    return factory


def sql_reader_factory(
    engine: AsyncEngine, *, clock: Clock = utc_now, observe: Observer | None = None
) -> tuple[Callable[[], SqlUnitOfWork], SqliteReader | None]:
    """A factory of read-only units of work, and what to close before disposing the engine.

    On SQLite they share one connection and read inline; elsewhere each takes a pooled
    connection and reads in autocommit, without BEGIN and COMMIT
    (:mod:`vending_core.adapters.reader`).
    """
    if engine.dialect.name != "sqlite":

        def reads() -> SqlUnitOfWork:
            return SqlUnitOfWork(engine, clock=clock, observe=observe, read_only=True)

        return reads, None
    reader = SqliteReader(engine)

    def factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock=clock, observe=observe, reader=reader)

    return factory, reader
