"""A dispatch round records its outcomes together, on memory, SQLite and PostgreSQL.

The expected rows are written by hand from the outbox's rules (module docstrings of
``vending_core.service.outbox`` and ``outbox_policy``), with the policy used here: base delay
30 s doubling, jitter 20 % with the RNG pinned at 0.5 (so no jitter), lease 120 s, at most
4 attempts. Every message is enqueued at T0 and dispatched at T0, so a claim makes a row
``sending`` with ``attempts`` one higher, ``lease_until`` T0 + 120 s and ``updated_at`` T0.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.transactions import counting
from vending_core.adapters.sql import sql_uow_factory
from vending_core.service import ports
from vending_core.service.messaging_records import OutboxMessage, OutboxStatus
from vending_core.service.outbox import (
    DeliveryResult,
    RetryPolicy,
    apply_delivery_report,
    dispatch_due,
    enqueue_sms,
)
from vending_core.service.sms_ports import OutboundSms, SendOutcome

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=120)
POLICY = RetryPolicy(
    max_attempts=4,
    base_delay=timedelta(seconds=30),
    max_delay=timedelta(hours=1),
    jitter=0.2,
    lease=LEASE,
)


class Backend(Protocol):
    """What the ``backend`` fixture gives (tests/contract/conftest.py)."""

    name: str
    new_uow: Callable[[], ports.UnitOfWork]


class SqlBackend(Backend, Protocol):
    """What the ``sql_backend`` fixture gives: a backend with its engine."""

    engine: AsyncEngine


def _half() -> float:
    return 0.5


class RoundSender:
    """Answers each message as the test scripted it by dedupe key (default: accepted).

    ``ok:<id>`` accepts with that provider id, ``down`` and ``refuse`` answer as a provider
    that is down or refuses the number, ``raise`` raises, ``reclaim:<id>`` first lets
    another dispatcher reclaim the row (its lease expired: claimed at T0 + 120 s), then
    accepts with that id.
    """

    name = "fake"

    def __init__(self, new_uow: Callable[[], ports.UnitOfWork], script: dict[str, str]) -> None:
        self._new_uow = new_uow
        self._script = script
        self._ids = itertools.count(1)
        self.asked: list[str] = []

    async def send(self, message: OutboundSms) -> SendOutcome:
        """Answer as scripted for ``message.reference``."""
        self.asked.append(message.reference)
        await asyncio.sleep(0)  # let the round's other sends run meanwhile
        action, _, provider_id = self._script.get(message.reference, "ok:").partition(":")
        if action == "down":
            return SendOutcome.retry_later("connection refused")
        if action == "refuse":
            return SendOutcome.refused("InvalidPhoneNumber", "403")
        if action == "raise":
            raise RuntimeError("a bug in the adapter")
        if action == "reclaim":
            async with self._new_uow() as uow:
                taken = await uow.outbox.claim_due(T0 + LEASE, T0 + 2 * LEASE, 1)
                await uow.commit()
            assert [m.dedupe_key for m in taken] == [message.reference]
        return SendOutcome.sent(provider_id or f"auto-{next(self._ids)}", "Success")


async def _enqueue(new_uow: Callable[[], ports.UnitOfWork], key: str, n: int) -> OutboxMessage:
    async with new_uow() as uow:
        message = await enqueue_sms(
            uow, dedupe_key=key, msisdn=f"+2547123450{n:02d}", text=key, kind="token", now=T0
        )
        await uow.commit()
    return message


def _sent(row: OutboxMessage, provider_id: str) -> OutboxMessage:
    """The enqueued row after attempt 1, accepted at T0 with ``provider_id`` and "Success"."""
    return replace(
        row,
        status=OutboxStatus.SENT,
        attempts=1,
        provider="fake",
        provider_message_id=provider_id,
        provider_status="Success",
        sent_at=T0,
    )


def _kind(sql: str) -> str:
    """``BEGIN``, ``COMMIT``, or the verb and table of a statement (``SELECT sms_outbox``)."""
    words = sql.split()
    verb = words[0]
    if verb in {"SELECT", "DELETE"}:
        return f"{verb} {words[words.index('FROM') + 1]}"
    if verb == "UPDATE":
        return f"UPDATE {words[1]}"
    return verb


async def _rows(new_uow: Callable[[], ports.UnitOfWork], count: int) -> list[OutboxMessage]:
    async with new_uow() as uow:
        found = [await uow.outbox.get(i) for i in range(1, count + 1)]
    return [m for m in found if m is not None]


async def test_a_round_of_mixed_outcomes_leaves_each_row_as_the_rules_say(
    backend: Backend,
) -> None:
    """Eight outcomes in one round, each row checked field by field against the rules.

    ``reclaimed`` is enqueued first (lowest id), so the other dispatcher's claim of one row
    at T0 + 120 s takes it: attempts 2, lease T0 + 240 s; our record leaves it alone.
    """
    script = {
        "reclaimed": "reclaim:p-7",
        "accepted": "ok:p-1",
        "held-success": "ok:p-2",
        "held-failed": "ok:p-3",
        "down": "down",
        "refused": "refuse",
        "raised": "raise",
        "last-try": "down",
    }
    queued = [await _enqueue(backend.new_uow, key, n) for n, key in enumerate(script, 1)]
    assert [m.id for m in queued] == list(range(1, 9))
    last = queued[7]
    async with backend.new_uow() as uow:  # three failed attempts behind it already
        await uow.outbox.update(replace(last, attempts=3))
        await uow.commit()
    for provider_id, status, reason in (
        ("p-2", "Success", ""),
        ("p-3", "Failed", "UserInBlackList"),
        ("p-99", "Success", ""),  # for a message of no one in this round: stays held
    ):
        held = await apply_delivery_report(
            backend.new_uow, "fake", provider_id, status, reason, T0, policy=POLICY
        )
        assert held is DeliveryResult.HELD
    sender = RoundSender(backend.new_uow, script)

    claimed = await dispatch_due(backend.new_uow, sender, T0, 50, policy=POLICY, rng=_half)

    assert claimed == 8
    assert sorted(sender.asked) == sorted(script)
    reclaimed, accepted, held_success, held_failed, down, refused, raised, last_try = queued
    assert await _rows(backend.new_uow, 8) == [
        # another dispatcher's claim at T0 + 120 s: attempt 2, its lease until T0 + 240 s
        replace(
            reclaimed,
            status=OutboxStatus.SENDING,
            attempts=2,
            lease_until=T0 + 2 * LEASE,
            updated_at=T0 + LEASE,
        ),
        _sent(accepted, "p-1"),
        # the Success held for p-2 applied when the send is recorded: delivered at T0
        replace(_sent(held_success, "p-2"), status=OutboxStatus.DELIVERED, delivered_at=T0),
        # Failed / UserInBlackList is not a retryable reason: undeliverable
        replace(
            _sent(held_failed, "p-3"),
            status=OutboxStatus.UNDELIVERABLE,
            provider_status="Failed",
            last_error="Failed: UserInBlackList",
        ),
        # retryable after attempt 1 of 4: queued again at T0 + 30 s * 2**0
        replace(
            down,
            attempts=1,
            next_attempt_at=T0 + timedelta(seconds=30),
            last_error="connection refused",
        ),
        # a permanent refusal: failed after one attempt
        replace(
            refused,
            status=OutboxStatus.FAILED,
            attempts=1,
            provider="fake",
            provider_status="403",
            last_error="InvalidPhoneNumber",
        ),
        # a sender that raises is a retryable failure
        replace(
            raised,
            attempts=1,
            next_attempt_at=T0 + timedelta(seconds=30),
            last_error="sender raised RuntimeError",
        ),
        # retryable, but attempt 4 of 4 was the last: failed
        replace(
            last_try,
            status=OutboxStatus.FAILED,
            attempts=4,
            provider="fake",
            last_error="connection refused",
        ),
    ]
    async with backend.new_uow() as uow:
        assert await uow.outbox.held_reports("fake", ["p-2", "p-3", "p-99"]) == [
            await uow.outbox.held_report("fake", "p-99")
        ]
        assert await uow.outbox.held_report("fake", "p-99") is not None


async def test_a_round_records_in_one_commit(backend: Backend) -> None:
    """Five messages: one claim commit and one record commit, where each alone took 1 + 5.

    Two units of work in all: the claim's and the round record's.
    """
    for n in range(1, 6):
        await _enqueue(backend.new_uow, f"vend:{n}:token", n)
    new_uow, counts = counting(backend.new_uow)
    script = {f"vend:{n}:token": ("down" if n == 4 else f"ok:p-{n}") for n in range(1, 6)}

    assert await dispatch_due(new_uow, RoundSender(new_uow, script), T0, policy=POLICY) == 5

    assert (counts.opened, counts.commits) == (2, 2)
    rows = await _rows(backend.new_uow, 5)
    assert [(m.status, m.provider_message_id) for m in rows] == [
        (OutboxStatus.SENT, "p-1"),
        (OutboxStatus.SENT, "p-2"),
        (OutboxStatus.SENT, "p-3"),
        (OutboxStatus.QUEUED, None),
        (OutboxStatus.SENT, "p-5"),
    ]


async def test_the_round_record_is_one_statement_per_step(sql_backend: SqlBackend) -> None:
    """Four messages, one with a held report: BEGIN, lock, held reports, update, drop, COMMIT.

    Recording each alone took BEGIN, SELECT FOR UPDATE, SELECT of its held report, UPDATE,
    COMMIT per message (20 here, and a DELETE for the held one).
    """
    seen: list[str] = []
    new_uow = sql_uow_factory(sql_backend.engine, observe=seen.append)
    for n in range(1, 5):
        await _enqueue(new_uow, f"vend:{n}:token", n)
    await apply_delivery_report(new_uow, "fake", "p-2", "Success", "", T0, policy=POLICY)
    script = {f"vend:{n}:token": f"ok:p-{n}" for n in range(1, 5)}
    seen.clear()

    await dispatch_due(new_uow, RoundSender(new_uow, script), T0, policy=POLICY)

    record = seen[seen.index("COMMIT") + 1 :]  # after the claim's commit
    assert [_kind(sql) for sql in record] == [
        "BEGIN",
        "SELECT sms_outbox",
        "SELECT sms_delivery_reports",
        "UPDATE sms_outbox",
        "DELETE sms_delivery_reports",
        "COMMIT",
    ]
    # the lock: FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE holds the database
    assert record[1].rstrip().endswith("FOR UPDATE") == (sql_backend.name == "postgres")
    statuses = [m.status for m in await _rows(new_uow, 4)]
    assert statuses == [OutboxStatus.SENT, OutboxStatus.DELIVERED, *[OutboxStatus.SENT] * 2]


async def test_a_row_the_database_refuses_costs_that_message_only(
    sql_backend: SqlBackend,
) -> None:
    """Two sends answered with the same provider id: the round's record fails, then each alone.

    ``(provider, provider_message_id)`` is unique, so the round's update is refused and
    nothing of it is stored; recorded one at a time, the third message is sent, one of the
    twins takes ``dup`` and the other stays as claimed (``sending``, attempt 1, lease
    T0 + 120 s) for its lease to expire, as a failed record always left it.
    """
    for n in range(1, 4):
        await _enqueue(sql_backend.new_uow, f"vend:{n}:token", n)
    script = {"vend:1:token": "ok:dup", "vend:2:token": "ok:dup", "vend:3:token": "ok:p-3"}
    new_uow, counts = counting(sql_backend.new_uow)

    await dispatch_due(new_uow, RoundSender(new_uow, script), T0, policy=POLICY)

    rows = await _rows(sql_backend.new_uow, 3)
    twins = sorted((m.status, m.provider_message_id, m.lease_until) for m in rows[:2])
    assert twins == [
        (OutboxStatus.SENDING, None, T0 + LEASE),
        (OutboxStatus.SENT, "dup", None),
    ]
    assert (rows[2].status, rows[2].provider_message_id) == (OutboxStatus.SENT, "p-3")
    # claim + the twin and the third recorded alone; the round's and one twin's rolled back
    assert (counts.opened, counts.commits) == (1 + 1 + 3, 1 + 2)
