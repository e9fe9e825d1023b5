"""The SQL unit of work: every repository on one connection, in one transaction.

Use::

    engine = create_engine(settings.database_url)        # vending_core.adapters.db
    uow_factory = sql_uow_factory(engine)                 # a ports.UnitOfWorkFactory
    async with uow_factory() as uow:
        meter = await uow.meters.get_by_number(number, lock=True)
        ...
        await uow.commit()                                # otherwise: rolled back

Entering checks a connection out of the engine's pool and begins the transaction
(``BEGIN IMMEDIATE`` on SQLite, READ COMMITTED on PostgreSQL); leaving rolls back whatever
was not committed and returns the connection. After :meth:`SqlUnitOfWork.commit` the unit of
work may go on: the next statement begins a new transaction.

Errors: see :mod:`vending_core.adapters.errors` (``DuplicateTid``, ``ConstraintViolation``,
``RowNotFound``); they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
from vending_core.adapters.sqlbase import Clock
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


def utc_now() -> datetime:
    """The current time, aware UTC (the default clock for stored-at times)."""
    return datetime.now(UTC)


class SqlUnitOfWork:
    """``ports.UnitOfWork`` over one ``AsyncConnection`` of ``engine``.

    Args:
        engine: From :func:`vending_core.adapters.db.create_engine`.
        clock: Time source for rows the adapter dates itself (an idempotency key's
            ``created_at``).
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

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in use")
        connection = await self._engine.connect()
        try:
            await connection.begin()
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        self._bind(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        """Commit everything done so far in this unit of work."""
        if self._connection is None:
            raise RuntimeError("commit outside 'async with' of the unit of work")
        await self._connection.commit()

    def _bind(self, connection: AsyncConnection) -> None:
        self.meters = SqlMeterRepository(connection)
        self.customers = SqlCustomerRepository(connection)
        self.tariffs = SqlTariffRepository(connection)
        self.supply_groups = SqlSupplyGroupRepository(connection)
        self.debts = SqlDebtRepository(connection)
        self.vendors = SqlVendorRepository(connection)
        self.vends = SqlVendRepository(connection)
        self.requests = SqlRequestRepository(connection, self._clock)
        self.maintenance = SqlMaintenanceRepository(connection)


def sql_uow_factory(engine: AsyncEngine, *, clock: Clock = utc_now) -> Callable[[], SqlUnitOfWork]:
    """A ``ports.UnitOfWorkFactory``: each call makes a new :class:`SqlUnitOfWork`."""

    def factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock=clock)

    return factory
