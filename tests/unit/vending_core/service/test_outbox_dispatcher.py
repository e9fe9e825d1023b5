"""The background ``OutboxDispatcher``: wakes on demand, polls, survives errors, stops cleanly.

Runs on the in-memory unit of work with the memory sender (the outbox's own contract suite
covers the databases).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gateway.sms.memory import MemorySmsSender
from vending_core.adapters.memory import MemoryDatabase, memory_uow_factory
from vending_core.service import ports
from vending_core.service.messaging_records import OutboxStatus
from vending_core.service.outbox import OutboxDispatcher, RetryPolicy, enqueue_sms
from vending_core.service.sms_ports import OutboundSms, SendOutcome

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
PHONE = "254712345678"


async def _enqueue(new_uow: Callable[[], ports.UnitOfWork], key: str) -> None:
    async with new_uow() as uow:
        await enqueue_sms(uow, dedupe_key=key, msisdn=PHONE, text=key, kind="token", now=T0)
        await uow.commit()


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (state changed by another task) for up to 5 s."""
    async with asyncio.timeout(5.0):
        while not condition():  # noqa: ASYNC110 - the condition is the sender's plain state
            await asyncio.sleep(0.01)


async def test_wake_sends_at_once_without_waiting_for_the_poll() -> None:
    """With a one-hour poll, wake() after enqueueing gets the message out immediately."""
    new_uow = memory_uow_factory()
    sender = MemorySmsSender()
    dispatcher = OutboxDispatcher(new_uow, sender, clock=lambda: T0, poll_interval=3600)
    dispatcher.start()
    try:
        await _until(lambda: dispatcher.rounds >= 1)
        await _enqueue(new_uow, "vend:1:token")
        dispatcher.wake()
        await _until(lambda: len(sender.sent) == 1)
    finally:
        await dispatcher.stop()
    assert not dispatcher.running
    assert [m.reference for m in sender.sent] == ["vend:1:token"]


async def test_poll_picks_up_retries_after_an_outage() -> None:
    """Down, then up: the poll loop retries when the backoff is due and sends once."""
    new_uow = memory_uow_factory()
    sender = MemorySmsSender()
    sender.down()
    now = [T0]
    policy = RetryPolicy(base_delay=timedelta(seconds=30), jitter=0.0)
    dispatcher = OutboxDispatcher(
        new_uow, sender, clock=lambda: now[0], policy=policy, poll_interval=0.01
    )
    await _enqueue(new_uow, "vend:2:token")
    dispatcher.start()
    try:
        await _until(lambda: sender.attempts == 1)
        sender.up()
        now[0] = T0 + timedelta(seconds=30)  # the first retry is due 30 s later
        await _until(lambda: len(sender.sent) == 1)
        await asyncio.sleep(0.05)  # more rounds: nothing else is sent
    finally:
        await dispatcher.stop()
    assert sender.attempts == 2
    async with new_uow() as uow:
        stored = await uow.outbox.get_by_key("vend:2:token")
    assert stored is not None
    assert stored.status is OutboxStatus.SENT


async def test_an_error_in_a_round_is_logged_and_the_loop_goes_on() -> None:
    """A unit of work that fails once (database down) does not kill the task."""
    database = MemoryDatabase()
    healthy = memory_uow_factory(database)
    failures = [1]

    def flaky() -> ports.UnitOfWork:
        if failures:
            failures.pop()
            raise ConnectionError("database unavailable")
        return healthy()

    sender = MemorySmsSender()
    await _enqueue(healthy, "vend:3:token")
    dispatcher = OutboxDispatcher(flaky, sender, clock=lambda: T0, poll_interval=0.01)
    dispatcher.start()
    try:
        await _until(lambda: len(sender.sent) == 1)
        assert dispatcher.running
    finally:
        await dispatcher.stop()
    assert dispatcher.rounds >= 2


async def test_stop_cancels_a_round_stuck_past_the_grace_period() -> None:
    """A send that hangs is cancelled after the grace period; stop() returns."""

    class Hanging(MemorySmsSender):
        async def send(self, message: OutboundSms) -> SendOutcome:
            await asyncio.sleep(3600)
            raise AssertionError("never reached")

    new_uow = memory_uow_factory()
    await _enqueue(new_uow, "vend:4:token")
    sender = Hanging()
    dispatcher = OutboxDispatcher(new_uow, sender, clock=lambda: T0)
    dispatcher.start()
    await asyncio.sleep(0.05)
    async with asyncio.timeout(2):
        await dispatcher.stop(grace=0.1)
    assert not dispatcher.running
    async with new_uow() as uow:
        stored = await uow.outbox.get_by_key("vend:4:token")
    assert stored is not None
    assert stored.status is OutboxStatus.SENDING  # its lease expires, then it is retried
