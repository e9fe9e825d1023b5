"""Contract of the SMS outbox (``vending_core.service.outbox``) on memory, SQLite and PostgreSQL.

Times are hand-computed from the retry policy used here: base delay 30 s doubling, cap 1 h,
jitter 20 % with the RNG pinned at 0.5 (no jitter) unless a test says otherwise, lease 120 s.
The sender is a scripted fake (the real senders have their own contract suite).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vending_core.adapters.sql import sql_uow_factory
from vending_core.service import ports
from vending_core.service.messaging_records import HeldReport, OutboxMessage, OutboxStatus
from vending_core.service.outbox import (
    DeliveryResult,
    RetryPolicy,
    apply_delivery_report,
    dispatch_due,
    enqueue_sms,
    resend_sms,
    token_sms_key,
)
from vending_core.service.sms_ports import OutboundSms, SendOutcome

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    max_attempts=4,
    base_delay=timedelta(seconds=30),
    max_delay=timedelta(hours=1),
    jitter=0.2,
    lease=timedelta(seconds=120),
)
PHONE = "254712345678"


class Backend(Protocol):
    """What the ``backend`` fixture gives (tests/contract/conftest.py)."""

    name: str
    new_uow: Callable[[], ports.UnitOfWork]


class ScriptedSender:
    """A sender whose answer the test sets: ``mode`` is ok, down, refuse or raise."""

    name = "fake"

    def __init__(self, *, delay: float = 0.0) -> None:
        self.mode = "ok"
        self.delay = delay
        self.sent: list[OutboundSms] = []
        self.calls = 0
        self.next_ids: list[str] = []
        self._ids = itertools.count(1)

    async def send(self, message: OutboundSms) -> SendOutcome:
        """Answer as ``mode`` says; record what was accepted."""
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "down":
            return SendOutcome.retry_later("connection refused")
        if self.mode == "refuse":
            return SendOutcome.refused("InvalidPhoneNumber", "403")
        if self.mode == "raise":
            raise RuntimeError("a bug in the adapter")
        self.sent.append(message)
        message_id = self.next_ids.pop(0) if self.next_ids else f"fake-{next(self._ids)}"
        return SendOutcome.sent(message_id, "Success")


def _half() -> float:
    return 0.5


async def _enqueue(backend: Backend, key: str = "vend:1:token", text: str = "Token 1") -> int:
    async with backend.new_uow() as uow:
        message = await enqueue_sms(
            uow, dedupe_key=key, msisdn=f"+{PHONE}", text=text, kind="token", now=T0
        )
        await uow.commit()
    assert message.id is not None
    return message.id


async def _get(backend: Backend, message_id: int) -> OutboxMessage:
    async with backend.new_uow() as uow:
        message = await uow.outbox.get(message_id)
    assert message is not None
    return message


async def _dispatch(backend: Backend, sender: ScriptedSender, now: datetime) -> int:
    return await dispatch_due(backend.new_uow, sender, now, 50, policy=POLICY, rng=_half)


async def test_enqueue_is_idempotent_on_the_dedupe_key(backend: Backend) -> None:
    """The same key enqueued twice is one row: the first text stays, the id is the same."""
    first = await _enqueue(backend, "vend:7:token", "Token A")
    second = await _enqueue(backend, "vend:7:token", "Token B")
    assert first == second
    stored = await _get(backend, first)
    assert (stored.text, stored.msisdn, stored.status) == ("Token A", PHONE, OutboxStatus.QUEUED)
    assert (stored.attempts, stored.next_attempt_at, stored.created_at) == (0, T0, T0)
    assert token_sms_key(7) == "vend:7:token"


async def test_enqueue_belongs_to_the_callers_transaction(backend: Backend) -> None:
    """A unit of work that enqueues and rolls back (a failed vend) leaves no SMS behind."""
    async with backend.new_uow() as uow:
        await enqueue_sms(uow, dedupe_key="k", msisdn=PHONE, text="t", kind="token", now=T0)
    async with backend.new_uow() as uow:
        assert await uow.outbox.get_by_key("k") is None


async def test_dispatch_sends_once_and_records_the_provider_id(backend: Backend) -> None:
    """A due message is sent, marked sent with the provider's id; a second round sends nothing."""
    message_id = await _enqueue(backend)
    sender = ScriptedSender()
    assert await _dispatch(backend, sender, T0) == 1
    assert [(m.to, m.text, m.reference) for m in sender.sent] == [
        (PHONE, "Token 1", "vend:1:token")
    ]
    stored = await _get(backend, message_id)
    assert stored.status is OutboxStatus.SENT
    assert (stored.provider, stored.provider_message_id, stored.attempts) == ("fake", "fake-1", 1)
    assert (stored.sent_at, stored.lease_until) == (T0, None)
    assert await _dispatch(backend, sender, T0 + timedelta(hours=1)) == 0
    assert sender.calls == 1


async def test_backoff_schedule_then_failed_after_max_attempts(backend: Backend) -> None:
    """Retries at +30 s, +60 s, +120 s (30 * 2**(n-1)); the 4th failure (max 4) is final."""
    message_id = await _enqueue(backend)
    sender = ScriptedSender()
    sender.mode = "down"
    due = T0
    for delay in (30, 60, 120):  # after attempts 1, 2, 3
        assert await _dispatch(backend, sender, due) == 1
        stored = await _get(backend, message_id)
        assert stored.status is OutboxStatus.QUEUED
        assert stored.next_attempt_at == due + timedelta(seconds=delay)
        assert stored.last_error == "connection refused"
        assert await _dispatch(backend, sender, stored.next_attempt_at - timedelta(seconds=1)) == 0
        due = stored.next_attempt_at
    assert due == T0 + timedelta(seconds=30 + 60 + 120)
    assert await _dispatch(backend, sender, due) == 1
    stored = await _get(backend, message_id)
    assert (stored.status, stored.attempts) == (OutboxStatus.FAILED, 4)
    assert await _dispatch(backend, sender, due + timedelta(days=1)) == 0


async def test_jitter_scales_the_delay_by_up_to_twenty_percent(backend: Backend) -> None:
    """With the RNG at 0.0 the first retry waits 30 s * (1 - 0.2) = 24 s."""
    message_id = await _enqueue(backend)
    sender = ScriptedSender()
    sender.mode = "down"
    await dispatch_due(backend.new_uow, sender, T0, 50, policy=POLICY, rng=lambda: 0.0)
    stored = await _get(backend, message_id)
    assert stored.next_attempt_at == T0 + timedelta(seconds=24)


async def test_permanent_refusal_fails_at_once(backend: Backend) -> None:
    """A refusal that is not retryable ends the message after one attempt."""
    message_id = await _enqueue(backend)
    sender = ScriptedSender()
    sender.mode = "refuse"
    await _dispatch(backend, sender, T0)
    stored = await _get(backend, message_id)
    assert (stored.status, stored.attempts) == (OutboxStatus.FAILED, 1)
    assert (stored.last_error, stored.provider_status) == ("InvalidPhoneNumber", "403")


async def test_a_sender_that_raises_costs_one_attempt_not_the_batch(backend: Backend) -> None:
    """An exception from the sender is a retryable failure of that message only."""
    first = await _enqueue(backend, "a")
    sender = ScriptedSender()
    sender.mode = "raise"
    assert await _dispatch(backend, sender, T0) == 1
    stored = await _get(backend, first)
    assert stored.status is OutboxStatus.QUEUED
    assert stored.last_error == "sender raised RuntimeError"


async def test_lease_recovery_after_a_crash_between_claim_and_record(backend: Backend) -> None:
    """A claimed row whose sender died is sent again once the 120 s lease has expired."""
    message_id = await _enqueue(backend)
    async with backend.new_uow() as uow:  # a dispatcher claims, then its process dies
        claimed = await uow.outbox.claim_due(T0, T0 + POLICY.lease, 10)
        await uow.commit()
    assert [m.id for m in claimed] == [message_id]
    sender = ScriptedSender()
    assert await _dispatch(backend, sender, T0 + timedelta(seconds=119)) == 0
    assert await _dispatch(backend, sender, T0 + timedelta(seconds=120)) == 1
    stored = await _get(backend, message_id)
    assert (stored.status, stored.attempts) == (OutboxStatus.SENT, 2)
    assert len(sender.sent) == 1


async def test_delivery_report_after_the_send_is_recorded(backend: Backend) -> None:
    """Success → delivered; repeats and older news are ignored; delivered is sticky."""
    message_id = await _enqueue(backend)
    await _dispatch(backend, ScriptedSender(), T0)
    later = T0 + timedelta(minutes=3)

    async def report(status: str, reason: str = "") -> DeliveryResult:
        return await apply_delivery_report(
            backend.new_uow, "fake", "fake-1", status, reason, later, policy=POLICY, rng=_half
        )

    assert await report("Buffered") is DeliveryResult.APPLIED
    assert (await _get(backend, message_id)).provider_status == "Buffered"
    assert await report("Buffered") is DeliveryResult.IGNORED
    assert await report("Success") is DeliveryResult.APPLIED
    assert await report("Success") is DeliveryResult.IGNORED
    assert await report("Failed", "UserIsInactive") is DeliveryResult.IGNORED
    assert await report("Submitted") is DeliveryResult.IGNORED
    stored = await _get(backend, message_id)
    assert (stored.status, stored.delivered_at) == (OutboxStatus.DELIVERED, later)


async def test_delivery_report_before_the_send_is_recorded(backend: Backend) -> None:
    """A report for an id not recorded yet is held, then applied when the send is recorded."""
    message_id = await _enqueue(backend)
    result = await apply_delivery_report(
        backend.new_uow, "fake", "early-1", "Success", "", T0, policy=POLICY
    )
    assert result is DeliveryResult.HELD
    sender = ScriptedSender()
    sender.next_ids = ["early-1"]
    await _dispatch(backend, sender, T0)
    stored = await _get(backend, message_id)
    assert (stored.status, stored.provider_message_id) == (OutboxStatus.DELIVERED, "early-1")
    async with backend.new_uow() as uow:
        assert await uow.outbox.held_report("fake", "early-1") is None


async def test_a_final_held_report_is_not_replaced_by_an_intermediate_one(
    backend: Backend,
) -> None:
    """Held reports arriving out of order keep the final word (Rejected beats Buffered)."""
    for status in ("Rejected", "Buffered"):
        await apply_delivery_report(
            backend.new_uow, "fake", "x-1", status, "UserInBlackList", T0, policy=POLICY
        )
    async with backend.new_uow() as uow:
        held = await uow.outbox.held_report("fake", "x-1")
    assert held is not None
    assert (held.status, held.failure_reason) == ("Rejected", "UserInBlackList")


async def test_failed_report_is_final_unless_the_reason_is_retryable(backend: Backend) -> None:
    """Failed/UserInBlackList → undeliverable; Failed/InsufficientCredit → queued at +30 s."""
    final_id = await _enqueue(backend, "a")
    retry_id = await _enqueue(backend, "b")
    await _dispatch(backend, ScriptedSender(), T0)  # fake-1 for a, fake-2 for b
    at = T0 + timedelta(minutes=1)
    for provider_id, reason in (("fake-1", "UserInBlackList"), ("fake-2", "InsufficientCredit")):
        result = await apply_delivery_report(
            backend.new_uow, "fake", provider_id, "Failed", reason, at, policy=POLICY, rng=_half
        )
        assert result is DeliveryResult.APPLIED
    final = await _get(backend, final_id)
    assert (final.status, final.last_error) == (
        OutboxStatus.UNDELIVERABLE,
        "Failed: UserInBlackList",
    )
    retried = await _get(backend, retry_id)
    assert retried.status is OutboxStatus.QUEUED
    assert retried.next_attempt_at == at + timedelta(seconds=30)  # after 1 attempt: 30 s


async def test_provider_down_then_back_sends_every_message_exactly_once(
    backend: Backend,
) -> None:
    """Five token SMS queued during an outage all go out once, and only once, after it."""
    ids = [await _enqueue(backend, f"vend:{n}:token", f"Token {n}") for n in range(1, 6)]
    sender = ScriptedSender()
    sender.mode = "down"
    assert await _dispatch(backend, sender, T0) == 5
    assert await _dispatch(backend, sender, T0 + timedelta(seconds=30)) == 5
    sender.mode = "ok"
    now = T0 + timedelta(seconds=30 + 60)
    assert await _dispatch(backend, sender, now) == 5
    for later in (now, now + timedelta(hours=2)):
        assert await _dispatch(backend, sender, later) == 0
    assert Counter(m.reference for m in sender.sent) == {f"vend:{n}:token": 1 for n in range(1, 6)}
    assert {(await _get(backend, i)).status for i in ids} == {OutboxStatus.SENT}


async def test_resend_queues_a_copy_under_a_new_key(backend: Backend) -> None:
    """A resend is a new row with the stored text; the same request key gives the same row."""
    original = await _enqueue(backend, "vend:9:token", "Token 9")
    first = await resend_sms(backend.new_uow, dedupe_key="vend:9:token", request_key="s1", now=T0)
    again = await resend_sms(backend.new_uow, dedupe_key="vend:9:token", request_key="s1", now=T0)
    assert first is not None
    assert again is not None
    assert first.id == again.id != original
    assert (first.dedupe_key, first.text, first.kind) == (
        "vend:9:token:resend:s1",
        "Token 9",
        "resend",
    )
    missing = await resend_sms(backend.new_uow, dedupe_key="nope", request_key="s1", now=T0)
    assert missing is None


async def test_concurrent_dispatchers_never_send_a_row_twice(sql_backend: Backend) -> None:
    """Four dispatchers racing over 40 rows (PostgreSQL: SKIP LOCKED) send each exactly once."""
    for n in range(40):
        await _enqueue(sql_backend, f"k{n}", f"text {n}")
    sender = ScriptedSender(delay=0.002)

    async def dispatcher() -> int:
        total = 0
        while claimed := await dispatch_due(
            sql_backend.new_uow, sender, T0, 5, policy=POLICY, rng=_half
        ):
            total += claimed
        return total

    totals = await asyncio.gather(*(dispatcher() for _ in range(4)))
    assert sum(totals) == 40
    assert Counter(m.reference for m in sender.sent) == {f"k{n}": 1 for n in range(40)}


@pytest.mark.parametrize("msisdn", ["12345", "+25471234567890123", "2547-1234", ""])
async def test_enqueue_refuses_what_is_not_a_phone_number(backend: Backend, msisdn: str) -> None:
    """E.164 allows at most 15 digits; we also ask for 6 or more and digits only (a + is fine)."""
    async with backend.new_uow() as uow:
        with pytest.raises(ValueError, match="not an international phone number"):
            await enqueue_sms(uow, dedupe_key="k", msisdn=msisdn, text="t", kind="x", now=T0)


async def test_lock_many_returns_the_stored_rows_ordered_by_id(backend: Backend) -> None:
    """Asked for ids 3, 1, 99 (never stored) and 1 again: rows 1 and 3, in id order, as stored."""
    ids = [await _enqueue(backend, f"k{n}", f"text {n}") for n in range(1, 4)]
    assert ids == [1, 2, 3]
    async with backend.new_uow() as uow:
        locked = await uow.outbox.lock_many([3, 1, 99, 1])
        assert await uow.outbox.lock_many([]) == []
    assert [(m.id, m.dedupe_key, m.text) for m in locked] == [
        (1, "k1", "text 1"),
        (3, "k3", "text 3"),
    ]
    assert locked == [await _get(backend, 1), await _get(backend, 3)]


async def test_update_many_stores_every_field_of_each_message(backend: Backend) -> None:
    """Two rows changed in every field but id and key, stored together; the third untouched."""
    ids = [await _enqueue(backend, f"k{n}", f"text {n}") for n in range(1, 4)]
    later = T0 + timedelta(minutes=5)
    first, second, third = [await _get(backend, i) for i in ids]
    changed = [
        replace(
            first,
            msisdn="254700000001",
            text="new 1",
            kind="resend",
            status=OutboxStatus.SENT,
            attempts=2,
            next_attempt_at=later,
            lease_until=None,
            provider="fake",
            provider_message_id="fake-9",
            provider_status="Success",
            last_error=None,
            updated_at=later,
            sent_at=later,
        ),
        replace(
            second,
            status=OutboxStatus.DELIVERED,
            attempts=3,
            lease_until=later,
            provider="fake",
            provider_message_id="fake-10",
            provider_status="Delivered",
            last_error="an earlier error",
            updated_at=later,
            sent_at=T0,
            delivered_at=later,
        ),
    ]
    async with backend.new_uow() as uow:
        await uow.outbox.update_many(changed)
        await uow.outbox.update_many([])
        await uow.commit()
    assert [await _get(backend, i) for i in ids] == [*changed, third]


async def test_held_reports_and_drop_reports_touch_only_the_ids_named(backend: Backend) -> None:
    """Of held fake/a, fake/b, other/a: fake's a and c find fake/a; dropping them keeps the rest.

    Asking for a twice returns it once; an empty list asks nothing.
    """
    for provider, provider_id, status in (
        ("fake", "a", "Success"),
        ("fake", "b", "Buffered"),
        ("other", "a", "Failed"),
    ):
        async with backend.new_uow() as uow:
            await uow.outbox.hold_report(
                HeldReport(
                    provider=provider,
                    provider_message_id=provider_id,
                    status=status,
                    failure_reason="",
                    received_at=T0,
                )
            )
            await uow.commit()
    async with backend.new_uow() as uow:
        found = await uow.outbox.held_reports("fake", ["a", "c", "a"])
        assert await uow.outbox.held_reports("fake", []) == []
        assert [(r.provider, r.provider_message_id, r.status) for r in found] == [
            ("fake", "a", "Success")
        ]
        assert found[0] == await uow.outbox.held_report("fake", "a")
        await uow.outbox.drop_reports("fake", ["a", "c"])
        await uow.outbox.drop_reports("fake", [])
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.outbox.held_report("fake", "a") is None
        kept = [await uow.outbox.held_report(p, i) for p, i in (("fake", "b"), ("other", "a"))]
    assert [(r.provider, r.status) for r in kept if r is not None] == [
        ("fake", "Buffered"),
        ("other", "Failed"),
    ]


@pytest.mark.postgres
async def test_lock_many_holds_the_row_locks_until_the_unit_of_work_ends(
    postgres_engine: AsyncEngine,
) -> None:
    """PostgreSQL: rows held by lock_many are skipped by a concurrent claim until released.

    While one unit of work holds rows 1 and 2, a claim (SKIP LOCKED) takes only row 3; once
    it ends, the next claim takes 1 and 2.
    """
    new_uow = sql_uow_factory(postgres_engine)
    for n in range(1, 4):
        async with new_uow() as uow:
            await enqueue_sms(uow, dedupe_key=f"k{n}", msisdn=PHONE, text="t", kind="x", now=T0)
            await uow.commit()
    async with new_uow() as holder:
        assert [m.id for m in await holder.outbox.lock_many([2, 1])] == [1, 2]
        async with new_uow() as other:
            taken = await other.outbox.claim_due(T0, T0 + POLICY.lease, 10)
            await other.commit()
        assert [m.id for m in taken] == [3]
    async with new_uow() as other:
        taken = await other.outbox.claim_due(T0, T0 + POLICY.lease, 10)
        await other.commit()
    assert [m.id for m in taken] == [1, 2]
