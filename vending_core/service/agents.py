"""SMS agents: register, change PIN, block, and sell from the vendor's float with a PIN.

``BUY <meter> <amount> <PIN>`` from an agent's phone is :func:`agent_vend`: the PIN is checked
in a unit of work of its own (a wrong PIN is counted and committed even though the sale is
refused), then the sale is :func:`~vending_core.service.vending.vend_credit` with the agent's
vendor code, so the float debit, credit limit, commission and idempotency are the core's,
unchanged. The rules (PIN hashing, lockout, refusals) are in
:mod:`vending_core.domain.agents`; ``salt`` is the deployment's PIN secret.

Idempotency: ``(client_id, request_id)`` as for every sale. A retry of a sale re-checks the
PIN and gets the stored result; the caller should make ``client_id`` name the agent (e.g.
``"sms-agent:<msisdn>"``) so two agents can never share a key.
"""

from __future__ import annotations

from typing import Final

from vending_core.domain.agents import NAME_MAX as _NAME_MAX
from vending_core.domain.agents import (
    Agent,
    AgentExists,
    AgentInfo,
    AgentInvalid,
    AgentLocked,
    AgentPinWrong,
    AgentStatus,
    AgentUnknown,
    LockoutPolicy,
    check_pin,
    ensure_can_sell,
    normalise_msisdn,
    pin_hash,
    pin_matches,
    record_failure,
    record_success,
)
from vending_core.service.core import Core, RequestContext
from vending_core.service.ports import UnitOfWork
from vending_core.service.results import VendResult
from vending_core.service.vending import vend_credit

__all__ = [
    "DEFAULT_LOCKOUT",
    "agent_vend",
    "block_agent",
    "change_agent_pin",
    "find_agent",
    "register_agent",
    "unblock_agent",
]

DEFAULT_LOCKOUT: Final = LockoutPolicy()  #: 5 wrong PINs in 15 minutes lock for 30 minutes
CHANNEL: Final = "sms"


async def register_agent(  # noqa: PLR0917 - the brief's signature: every field of an agent
    core: Core, msisdn: str, vendor_code: str, name: str, pin: str, salt: bytes
) -> AgentInfo:
    """Make ``msisdn`` an agent of vendor ``vendor_code`` with ``pin``.

    AgentInvalid for a bad number, PIN or name or an unknown vendor; AgentExists if the
    number is already an agent.
    """
    number = normalise_msisdn(msisdn)
    check_pin(pin)
    name = name.strip()
    if not 0 < len(name) <= _NAME_MAX:
        raise AgentInvalid(f"an agent's name has 1 to {_NAME_MAX} characters")
    async with core.uow() as uow:
        if await uow.vendors.get_by_code(vendor_code) is None:
            raise AgentInvalid(f"no vendor {vendor_code!r} is registered")
        agent = Agent(
            msisdn=number,
            vendor_code=vendor_code,
            name=name,
            pin_hash=pin_hash(number, pin, salt),
            created_at=core.now(),
        )
        if not await uow.agents.add(agent):
            raise AgentExists(f"{number} is already an agent")
        await uow.commit()
    return agent.info()


async def find_agent(core: Core, msisdn: str) -> AgentInfo | None:
    """The agent with that phone number, or None (also for a malformed number)."""
    try:
        number = normalise_msisdn(msisdn)
    except AgentInvalid:
        return None
    async with core.uow() as uow:
        agent = await uow.agents.get(number)
    return None if agent is None else agent.info()


async def _locked_agent(uow: UnitOfWork, msisdn: str) -> Agent:
    """The agent's row, locked until the unit of work ends; AgentUnknown if there is none."""
    try:
        number = normalise_msisdn(msisdn)
    except AgentInvalid as exc:
        raise AgentUnknown(f"no agent has the number {msisdn!r}") from exc
    agent = await uow.agents.get(number, lock=True)
    if agent is None:
        raise AgentUnknown(f"no agent has the number {number}")
    return agent


async def _check_pin(
    core: Core, uow: UnitOfWork, agent: Agent, pin: str, *, salt: bytes, lockout: LockoutPolicy
) -> None:
    """Refuse a blocked or locked agent, then check the PIN; a wrong one is counted, committed.

    On a right PIN a failure count is cleared (stored by the caller's commit, if any).
    """
    now = core.now()
    ensure_can_sell(agent, now)
    if pin_matches(agent, pin, salt):
        if record_success(agent):
            await uow.agents.update(agent)
        return
    locked = record_failure(agent, now, lockout)
    await uow.agents.update(agent)
    await uow.commit()
    if locked and agent.locked_until is not None:
        raise AgentLocked(
            f"agent {agent.msisdn} gave {lockout.max_failures} wrong PINs; locked until "
            f"{agent.locked_until}",
            until=agent.locked_until,
        )
    raise AgentPinWrong(f"wrong PIN for agent {agent.msisdn}")


async def agent_vend(
    core: Core,
    *,
    msisdn: str,
    pin: str,
    meter: str,
    amount: int,
    client_id: str,
    request_id: str,
    salt: bytes,
    lockout: LockoutPolicy = DEFAULT_LOCKOUT,
) -> VendResult:
    """Sell ``amount`` (gross, minor units) to ``meter`` for the agent, from its vendor's float.

    Refusals: AgentUnknown, AgentBlocked, AgentLocked (PIN not checked), AgentPinWrong (the
    failure is stored; the ``max_failures``-th locks, AgentLocked); then every refusal of
    ``vend_credit`` (VendorFloatExhausted at the credit limit, MeterUnknown, ...).
    """
    async with core.uow() as uow:
        agent = await _locked_agent(uow, msisdn)
        await _check_pin(core, uow, agent, pin, salt=salt, lockout=lockout)
        await uow.commit()
    ctx = RequestContext(
        client_id=client_id,
        request_id=request_id,
        channel=CHANNEL,
        vendor_code=agent.vendor_code,
        operator=f"agent:{agent.msisdn}",
    )
    return await vend_credit(core, ctx, meter, amount)


async def change_agent_pin(
    core: Core,
    msisdn: str,
    new_pin: str,
    salt: bytes,
    *,
    old_pin: str | None = None,
    lockout: LockoutPolicy = DEFAULT_LOCKOUT,
) -> AgentInfo:
    """Set the agent's PIN.

    With ``old_pin`` (the agent changing its own PIN) the old PIN is checked like a sale's:
    blocked and locked agents are refused, a wrong PIN counts toward the lockout. Without it
    (staff resetting a forgotten PIN) the failure count and any lock are cleared too.
    """
    check_pin(new_pin)
    async with core.uow() as uow:
        agent = await _locked_agent(uow, msisdn)
        if old_pin is not None:
            await _check_pin(core, uow, agent, old_pin, salt=salt, lockout=lockout)
        else:
            agent.failed_pins, agent.first_failed_at, agent.locked_until = 0, None, None
        agent.pin_hash = pin_hash(agent.msisdn, new_pin, salt)
        await uow.agents.update(agent)
        await uow.commit()
    return agent.info()


async def _set_status(core: Core, msisdn: str, status: AgentStatus) -> AgentInfo:
    async with core.uow() as uow:
        agent = await _locked_agent(uow, msisdn)
        agent.status = status
        if status is AgentStatus.ACTIVE:  # a fresh start: no counted failures, no lock
            agent.failed_pins, agent.first_failed_at, agent.locked_until = 0, None, None
        await uow.agents.update(agent)
        await uow.commit()
    return agent.info()


async def block_agent(core: Core, msisdn: str) -> AgentInfo:
    """Stop the agent selling (refused before any PIN check) until :func:`unblock_agent`."""
    return await _set_status(core, msisdn, AgentStatus.BLOCKED)


async def unblock_agent(core: Core, msisdn: str) -> AgentInfo:
    """Let a blocked agent sell again; clears a PIN lock and the failure count too."""
    return await _set_status(core, msisdn, AgentStatus.ACTIVE)
