"""Fixtures for the contract suites: one set of tests, run against every implementation.

``backend`` is parametrized over the in-memory twin, SQLite (a fresh migrated file per test)
and PostgreSQL (one migrated database per session, emptied before each test; skipped when the
server is down, failed under ``VENDGATE_REQUIRE_SERVICES=1``). The engines come from
``sqlite_engine`` and ``postgres_engine`` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sts import KeyType, Utility
from vending_core.adapters.errors import DuplicateTid
from vending_core.adapters.memory import DuplicateTidError, memory_uow_factory
from vending_core.adapters.sql import sql_uow_factory
from vending_core.domain.model import Meter, MeterStatus, SupplyGroup
from vending_core.service import ports


@dataclass(frozen=True, slots=True)
class Backend:
    """One implementation of the repository ports under test."""

    name: str
    new_uow: Callable[[], ports.UnitOfWork]
    duplicate_tid: type[Exception]  #: what ``vends.add`` raises for a repeated TID
    engine: AsyncEngine | None = None  #: the real database's engine (None: in memory)


_MEMORY = pytest.param("memory")
_SQLITE = pytest.param("sqlite")
_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


def _backend(request: pytest.FixtureRequest) -> Backend:
    name: str = request.param
    if name == "memory":
        return Backend(name, memory_uow_factory(), DuplicateTidError)
    engine: AsyncEngine = request.getfixturevalue(f"{name}_engine")
    return Backend(name, sql_uow_factory(engine), DuplicateTid, engine)


@pytest.fixture(params=[_MEMORY, _SQLITE, _POSTGRES])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each implementation of the unit of work in turn, on an empty database."""
    return _backend(request)


@pytest.fixture(params=[_SQLITE, _POSTGRES])
def sql_backend(request: pytest.FixtureRequest) -> Backend:
    """Each SQL implementation in turn (tests that need real connections and transactions)."""
    return _backend(request)


SGC = "600727"


def make_meter(number: str = "04040404040", pan: str = "600727040404040404") -> Meter:
    """A meter with every field set away from its default."""
    return Meter(
        number=number,
        pan=pan,
        utility=Utility.WATER,
        sgc=SGC,
        ti=7,
        krn=2,
        kt=KeyType.DUTK,
        ken=254,
        base_date=2014,
        ea=11,
        dkga=4,
        tariff_code="RES",
        status=MeterStatus.BLOCKED,
        blocked_reason="tamper seal broken",
        fbe_registered=True,
        last_tid=5_871_715,
        month="2026-03",
        month_tenths=1234,
        charged_up_to=date(2026, 2, 28),
        charges_owing=1500,
        last_fbe_month="2026-02",
        last_purchase_at=datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC),
        installed_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


AddMeter = Callable[..., Awaitable[int]]


@pytest.fixture
def new_meter() -> Callable[..., Meter]:
    """Make an unsaved meter with every field set; keywords override number/pan."""
    return make_meter


@pytest.fixture
def add_meter() -> AddMeter:
    """Store a meter (and its supply group) in a unit of work; keywords override number/pan."""

    async def add(uow: ports.UnitOfWork, **fields: str) -> int:
        if await uow.supply_groups.get(SGC) is None:
            group = SupplyGroup(
                sgc=SGC,
                name="Demo utility",
                key_ref="sgc-600727-krn2",
                dkga=4,
                key_revision=2,
                base_date=2014,
            )
            await uow.supply_groups.add(group)
        return await uow.meters.add(make_meter(**fields))

    return add
