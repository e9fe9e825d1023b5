"""SMS provider down then back, end to end: SQLite outbox, Africa's Talking client, fake AT.

Token SMS queued while the provider's port is closed all reach it exactly once after it
reopens; nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.sms.africastalking import AfricasTalkingSms
from tests.support.fake_africastalking import FakeAfricasTalking
from tests.support.transactions import queue_token_sms
from vending_core.adapters.sql import sql_uow_factory
from vending_core.service.messaging_records import OutboxStatus
from vending_core.service.outbox import RetryPolicy, dispatch_due

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_delay=timedelta(seconds=30), jitter=0.0)


async def test_provider_down_then_back_sends_each_token_sms_once(
    sqlite_engine: AsyncEngine,
) -> None:
    """3 SMS, provider down for two rounds (+30 s, +60 s backoff), then all sent once."""
    new_uow = sql_uow_factory(sqlite_engine)
    await queue_token_sms(new_uow, range(1, 4), now=T0, msisdn_prefix="+25471234500")
    fake = FakeAfricasTalking()
    await fake.start()
    await fake.stop()  # the port is known, and closed: the outage
    client = AfricasTalkingSms(username="sandbox", api_key=fake.api_key, base_url=fake.base_url)
    try:
        assert await dispatch_due(new_uow, client, T0, policy=POLICY) == 3
        assert await dispatch_due(new_uow, client, T0 + timedelta(seconds=30), policy=POLICY) == 3
        await fake.start()
        back = T0 + timedelta(seconds=30 + 60)
        assert await dispatch_due(new_uow, client, back, policy=POLICY) == 3
        assert await dispatch_due(new_uow, client, back + timedelta(hours=1), policy=POLICY) == 0
    finally:
        await client.aclose()
        await fake.stop()
    assert Counter(r.form["to"] for r in fake.received) == {
        "+254712345001": 1,
        "+254712345002": 1,
        "+254712345003": 1,
    }
    async with new_uow() as uow:
        for n in range(1, 4):
            stored = await uow.outbox.get_by_key(f"vend:{n}:token")
            assert stored is not None
            assert (stored.status, stored.attempts) == (OutboxStatus.SENT, 3)
            assert stored.provider_message_id is not None
            assert stored.provider_message_id.startswith("ATXid_")
