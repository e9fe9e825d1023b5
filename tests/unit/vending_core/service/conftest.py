"""Fixtures: a vending core on the in-memory adapters, seeded with one meter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.core_world import Clock, World, seed
from vending_core.adapters.memory import MemoryKeyStore, memory_uow_factory
from vending_core.service.core import Core, RequestContext


@pytest.fixture
def clock() -> Clock:
    """2026-03-10 09:30 UTC."""
    return Clock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))


@pytest.fixture
def core(clock: Clock) -> Core:
    """A core on fresh in-memory adapters with a deterministic random nibble."""
    return Core(
        uow=memory_uow_factory(), keys=MemoryKeyStore(), clock=clock, random_nibble=lambda: 5
    )


@pytest.fixture
async def world(core: Core, clock: Clock) -> World:
    """The core seeded with one meter (no FBE, no debt)."""
    counter = iter(range(1, 1_000_000))

    def next_request(**kwargs: str) -> RequestContext:
        return RequestContext(
            client_id=kwargs.get("client_id", "test"),
            request_id=kwargs.get("request_id", f"r{next(counter)}"),
            channel=kwargs.get("channel", "ussd"),
            vendor_code=kwargs.get("vendor_code"),
            operator=kwargs.get("operator"),
        )

    number = await seed(core)
    return World(core=core, clock=clock, meter_number=number, next_request=next_request)
