"""One contract for the agent repository: memory, SQLite, PostgreSQL.

Every field round-trips exactly (aware UTC times, the status enum), the msisdn is unique
(``add`` answers False and changes nothing), the vendor must exist (the foreign key), an
update stores every field, nothing survives a unit of work that did not commit, and
``get(lock=True)`` makes a second unit of work wait for the first's commit.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.contract.conftest import Backend
from vending_core.adapters.errors import ConstraintViolation, RowNotFound
from vending_core.adapters.memory_agents import UnknownVendorError
from vending_core.domain.agents import Agent, AgentStatus
from vending_core.domain.model import Vendor
from vending_core.service import ports

T0 = datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)
MSISDN = "254712345678"
BLOCKED_FOR_S = 0.3


def _agent(msisdn: str = MSISDN, **changes: Any) -> Agent:
    agent = Agent(
        msisdn=msisdn,
        vendor_code="AGENTS1",
        name="Wanjiku Kamau",
        pin_hash="ab" * 32,
        created_at=T0,
    )
    return replace(agent, **changes)


async def _with_vendor(uow: ports.UnitOfWork) -> None:
    await uow.vendors.add(Vendor(code="AGENTS1", name="Agent network", channel="sms"))


@pytest.fixture
async def stored(backend: Backend) -> Agent:
    """A vendor and one agent, committed."""
    agent = _agent()
    async with backend.new_uow() as uow:
        await _with_vendor(uow)
        assert await uow.agents.add(agent)
        await uow.commit()
    return agent


async def test_round_trip_of_every_field(backend: Backend) -> None:
    """An agent with every field away from its default comes back equal."""
    agent = _agent(
        status=AgentStatus.BLOCKED,
        failed_pins=3,
        first_failed_at=T0 + timedelta(minutes=1),
        locked_until=T0 + timedelta(minutes=31, microseconds=7),
    )
    async with backend.new_uow() as uow:
        await _with_vendor(uow)
        assert await uow.agents.add(agent)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.agents.get(MSISDN) == agent
        assert await uow.agents.get(MSISDN, lock=True) == agent
        assert await uow.agents.get("254700000000") is None


async def test_msisdn_is_unique(backend: Backend, stored: Agent) -> None:
    """A second agent on the same number is not added, and the first is unchanged."""
    async with backend.new_uow() as uow:
        assert not await uow.agents.add(_agent(name="Someone else"))
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.agents.get(MSISDN) == stored


async def test_vendor_must_exist(backend: Backend) -> None:
    """An agent of a vendor code that is not stored is refused (the foreign key)."""
    async with backend.new_uow() as uow:
        with pytest.raises((UnknownVendorError, ConstraintViolation)):
            await uow.agents.add(_agent(vendor_code="NOBODY"))


async def test_update_stores_every_field(backend: Backend, stored: Agent) -> None:
    """update() writes status, PIN hash and the lockout fields; the msisdn is the key."""
    changed = replace(
        stored,
        name="W. Kamau",
        pin_hash="cd" * 32,
        status=AgentStatus.BLOCKED,
        failed_pins=2,
        first_failed_at=T0,
        locked_until=T0 + timedelta(hours=1),
    )
    async with backend.new_uow() as uow:
        await uow.agents.update(changed)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.agents.get(MSISDN) == changed


async def test_update_of_an_unknown_agent_raises(backend: Backend) -> None:
    """Updating an agent that was never stored is an error, not a silent no-op."""
    async with backend.new_uow() as uow:
        with pytest.raises((KeyError, RowNotFound)):
            await uow.agents.update(_agent("254799999999"))


async def test_uncommitted_changes_are_rolled_back(backend: Backend, stored: Agent) -> None:
    """Without commit, neither a new agent nor an update survives the unit of work."""
    async with backend.new_uow() as uow:
        await uow.agents.add(_agent("254700000001"))
        await uow.agents.update(replace(stored, failed_pins=4))
    async with backend.new_uow() as uow:
        assert await uow.agents.get("254700000001") is None
        assert await uow.agents.get(MSISDN) == stored


async def test_a_locked_agent_waits_for_the_holder(backend: Backend, stored: Agent) -> None:
    """Two units of work each add one failure under lock=True: the second waits, total 2."""

    async def add_failure() -> None:
        async with backend.new_uow() as uow:
            agent = await uow.agents.get(MSISDN, lock=True)
            assert agent is not None
            agent.failed_pins += 1
            await uow.agents.update(agent)
            await uow.commit()

    async with backend.new_uow() as uow:
        first = await uow.agents.get(MSISDN, lock=True)
        assert first is not None
        second = asyncio.create_task(add_failure())
        await asyncio.sleep(BLOCKED_FOR_S)
        assert not second.done()
        first.failed_pins += 1
        await uow.agents.update(first)
        await uow.commit()
    await asyncio.wait_for(second, 20)
    async with backend.new_uow() as uow:
        final = await uow.agents.get(MSISDN)
    assert final is not None
    assert final.failed_pins == stored.failed_pins + 2
