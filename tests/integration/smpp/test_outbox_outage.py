"""SMSC killed mid-traffic and restarted, end to end.

SQLite outbox, OutboxDispatcher, SmppSmsSender, SmppLink and the smpp34 peer subprocess.

Messages queued while the bind is down stay in the outbox (the sender answers
retry_later) and go out once the link has re-bound by itself; every message reaches the
SMSC exactly once and its receipt marks it delivered.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from smpp.client import SmppLink
from smpp.models import LinkState
from smpp.sender import SmppSmsSender
from tests.integration.smpp.conftest import fast_config
from tests.support.smpp34_peer import Smpp34Peer
from tests.support.transactions import queue_token_sms
from vending_core.adapters.sql import sql_uow_factory
from vending_core.service import ports
from vending_core.service.messaging_records import OutboxStatus
from vending_core.service.outbox import (
    OutboxDispatcher,
    RetryPolicy,
    apply_delivery_report,
)
from vending_core.service.sms_ports import DeliveryReport

POLICY = RetryPolicy(
    base_delay=timedelta(milliseconds=100),
    max_delay=timedelta(milliseconds=200),
    jitter=0.0,
    max_attempts=50,
)


async def _statuses(new_uow: Callable[[], ports.UnitOfWork], numbers: range) -> list[OutboxStatus]:
    found: list[OutboxStatus] = []
    async with new_uow() as uow:
        for n in numbers:
            row = await uow.outbox.get_by_key(f"vend:{n}:token")
            assert row is not None
            found.append(row.status)
    return found


async def _until_delivered(new_uow: Callable[[], ports.UnitOfWork], numbers: range) -> None:
    async with asyncio.timeout(8.0):
        while set(await _statuses(new_uow, numbers)) != {OutboxStatus.DELIVERED}:  # noqa: ASYNC110 - polls database rows
            await asyncio.sleep(0.05)


async def test_messages_queued_during_an_smsc_outage_go_out_once_after_it_returns(
    sqlite_engine: AsyncEngine, smpp34_peer: Smpp34Peer
) -> None:
    """3 delivered, SMSC killed, 3 queued while down (retried, not lost), SMSC restarted.

    All 6 reach the SMSC once each and end delivered.
    """
    new_uow = sql_uow_factory(sqlite_engine)

    async def on_receipt(report: DeliveryReport) -> None:
        await apply_delivery_report(
            new_uow,
            report.provider,
            report.provider_message_id,
            report.status,
            report.failure_reason,
            datetime.now(UTC),
        )

    link = SmppLink(fast_config(smpp34_peer.port), on_receipt=on_receipt)
    sender = SmppSmsSender([link])
    dispatcher = OutboxDispatcher(new_uow, sender, policy=POLICY, poll_interval=0.05)
    link.start()
    dispatcher.start()
    try:
        assert await link.wait_bound(3.0)
        await queue_token_sms(new_uow, range(1, 4), now=datetime.now(UTC))
        dispatcher.wake()
        await _until_delivered(new_uow, range(1, 4))
        await smpp34_peer.kill()
        await smpp34_peer.wait_for(lambda: link.state is not LinkState.BOUND)
        await queue_token_sms(new_uow, range(4, 7), now=datetime.now(UTC))
        dispatcher.wake()
        await asyncio.sleep(0.5)  # a few retry rounds while the SMSC is down
        assert set(await _statuses(new_uow, range(4, 7))) <= {
            OutboxStatus.QUEUED,
            OutboxStatus.SENDING,
        }
        await smpp34_peer.start()
        await _until_delivered(new_uow, range(1, 7))
    finally:
        await dispatcher.stop()
        await link.stop()
    sent = Counter(s["to"] for s in smpp34_peer.submits())
    assert sent == {f"25471234500{n}": 1 for n in range(1, 7)}
    async with new_uow() as uow:
        late = await uow.outbox.get_by_key("vend:5:token")
    assert late is not None
    assert late.attempts >= 2  # tried while down, then sent
    assert late.provider == "smpp"
