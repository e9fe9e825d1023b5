"""What a dispatch round's record does when it cannot record the round together.

On the in-memory unit of work, whose outbox is made to refuse ``update_many`` (the round's
one write) where a test says so, and on a dispatcher stopped in the middle of a round. The
contract suites (tests/contract/test_outbox*.py) cover the states on every database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

from gateway.sms.memory import MemorySmsSender
from tests.support.transactions import Transactions, counting, queue_token_sms
from vending_core.adapters.memory import MemoryDatabase, MemoryUnitOfWork, memory_uow_factory
from vending_core.adapters.memory_messaging import MemoryOutbox
from vending_core.service import ports
from vending_core.service.messaging_records import OutboxMessage, OutboxStatus
from vending_core.service.outbox import OutboxDispatcher, RetryPolicy, dispatch_due
from vending_core.service.sms_ports import OutboundSms, SendOutcome

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
POLICY = RetryPolicy(lease=timedelta(seconds=120), jitter=0.0)


class _RefusingOutbox(MemoryOutbox):
    """The memory outbox, except that storing several rows at once fails."""

    async def update_many(self, messages: Sequence[OutboxMessage]) -> None:
        """Fail as a database that went away would."""
        raise ConnectionError("the database went away")


class _RefusingUnitOfWork(MemoryUnitOfWork):
    """A memory unit of work whose outbox refuses ``update_many``."""

    def _bind(self, tables: object) -> None:
        super()._bind(tables)  # type: ignore[arg-type]  # the memory tables, passed through
        self.outbox = _RefusingOutbox(self._tables.messaging)


def _factory(
    database: MemoryDatabase, *, refusing: bool
) -> tuple[ports.UnitOfWorkFactory, Transactions]:
    """Units of work on ``database`` (refusing ``update_many`` or not), counted."""
    return counting(partial(_RefusingUnitOfWork if refusing else MemoryUnitOfWork, database))


async def _enqueue(database: MemoryDatabase, count: int) -> None:
    await queue_token_sms(memory_uow_factory(database), range(1, count + 1), now=T0)


async def _states(database: MemoryDatabase, count: int) -> list[tuple[OutboxStatus, int]]:
    async with MemoryUnitOfWork(database) as uow:
        rows = [await uow.outbox.get(i) for i in range(1, count + 1)]
    return [(m.status, m.attempts) for m in rows if m is not None]


async def test_a_round_whose_record_fails_is_recorded_one_message_at_a_time() -> None:
    """Three sends, the round's record refused: each is recorded alone and ends sent.

    Units of work: the claim, the round's (rolled back), one per message (3): 5 opened,
    1 + 3 committed.
    """
    database = MemoryDatabase()
    await _enqueue(database, 3)
    new_uow, counts = _factory(database, refusing=True)

    assert await dispatch_due(new_uow, MemorySmsSender(), T0, policy=POLICY) == 3

    assert await _states(database, 3) == [(OutboxStatus.SENT, 1)] * 3
    assert (counts.opened, counts.commits) == (5, 4)


async def test_a_one_message_round_whose_record_fails_waits_for_its_lease() -> None:
    """One send whose record is refused is not recorded again: it stays sending, for its lease.

    Recording it alone is what just failed, so it costs that message an attempt, as before:
    2 units of work (the claim, the record), 1 commit.
    """
    database = MemoryDatabase()
    await _enqueue(database, 1)
    new_uow, counts = _factory(database, refusing=True)

    assert await dispatch_due(new_uow, MemorySmsSender(), T0, policy=POLICY) == 1

    assert await _states(database, 1) == [(OutboxStatus.SENDING, 1)]
    assert (counts.opened, counts.commits) == (2, 1)
    retried, _ = _factory(database, refusing=False)
    later = T0 + timedelta(seconds=120)  # the lease has expired: claimed and sent again
    assert await dispatch_due(retried, MemorySmsSender(), later, policy=POLICY) == 1
    assert await _states(database, 1) == [(OutboxStatus.SENT, 2)]


async def test_a_round_stopped_mid_send_records_the_sends_that_finished() -> None:
    """A round cancelled by stop() records what was sent; the hung send waits for its lease.

    Messages 1 and 3 are answered, message 2 hangs: stop() cancels the round after its
    grace, 1 and 3 are recorded sent, 2 stays sending (attempt 1).
    """

    class HangsOnTwo(MemorySmsSender):
        async def send(self, message: OutboundSms) -> SendOutcome:
            if message.reference == "vend:2:token":
                await asyncio.sleep(3600)
            return await super().send(message)

    database = MemoryDatabase()
    await _enqueue(database, 3)
    new_uow, _ = _factory(database, refusing=False)
    sender = HangsOnTwo()
    dispatcher = OutboxDispatcher(new_uow, sender, clock=lambda: T0, policy=POLICY)
    dispatcher.start()
    async with asyncio.timeout(5):
        while len(sender.sent) < 2:  # noqa: ASYNC110 - the sender's plain state, set by the round
            await asyncio.sleep(0.01)
        await dispatcher.stop(grace=0.1)

    assert not dispatcher.running
    assert await _states(database, 3) == [
        (OutboxStatus.SENT, 1),
        (OutboxStatus.SENDING, 1),
        (OutboxStatus.SENT, 1),
    ]
