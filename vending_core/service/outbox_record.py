"""Recording what a dispatch round's sends came to: the whole round in one unit of work.

:func:`vending_core.service.outbox.dispatch_due` sends a round's messages, then hands each
claimed row with its send outcome to :func:`record_round`, which records them together in
one unit of work, one statement per step: lock the round's rows (``lock_many``, ordered by
id so replicas lock in the same order), read the delivery reports held for the accepted
messages (``held_reports``), store the changed rows (``update_many``, one ``executemany``),
drop the held reports applied (``drop_reports``), commit. About six round trips for the
round, where recording each message on its own took five per message.

What each row becomes (:func:`_decided`), the same whether recorded with its round or alone:

* no longer ours (gone, not ``sending``, or its attempt count changed: reclaimed after our
  lease expired, or a delivery report got there first) → left as it is, with a warning;
* accepted → ``sent`` with the provider's message id; a delivery report held for that id
  (it arrived before the send was recorded) is applied and dropped;
* not accepted, retryable, attempts left → ``queued`` with backoff;
* otherwise → ``failed``.

If the round's unit of work fails, none of it is stored, and each message is then recorded
in its own unit of work, as before rounds were recorded together: a row the database
refuses (a provider message id stored already, a value too long) costs that one message an
attempt, never the round. A record that fails leaves its message ``sending``; it is sent
again when its lease expires (at-least-once, see :mod:`vending_core.service.outbox`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from vending_core.service.messaging_records import HeldReport, OutboxMessage, OutboxStatus
from vending_core.service.outbox_policy import Retry, after_report, requeued
from vending_core.service.ports import UnitOfWorkFactory
from vending_core.service.sms_ports import SendOutcome

__all__ = ["SendResult", "record_round"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    """A claimed row (as the claim stored it) and what its send came to."""

    claimed: OutboxMessage
    outcome: SendOutcome


async def record_round(
    uow_factory: UnitOfWorkFactory,
    results: Sequence[SendResult],
    *,
    provider: str,
    now: datetime,
    retry: Retry,
) -> None:
    """Record the outcomes in one unit of work; if that fails, each in its own. Never raises."""
    if not results:
        return
    try:
        await _record_together(uow_factory, results, provider=provider, now=now, retry=retry)
    except Exception:
        if len(results) == 1:  # recording it alone is what just failed
            _LOG.exception("outbox: recording the send of message %s failed", results[0].claimed.id)
            return
        _LOG.exception(
            "outbox: recording a round of %d sends failed; recording each alone", len(results)
        )
        await asyncio.gather(
            *(
                _record_alone(uow_factory, result, provider=provider, now=now, retry=retry)
                for result in results
            )
        )


async def _record_together(
    uow_factory: UnitOfWorkFactory,
    results: Sequence[SendResult],
    *,
    provider: str,
    now: datetime,
    retry: Retry,
) -> None:
    async with uow_factory() as uow:
        rows = {row.id: row for row in await uow.outbox.lock_many([_id(r) for r in results])}
        ours = [(r, rows[r.claimed.id]) for r in results if _is_ours(rows.get(r.claimed.id), r)]
        reported = [i for r, _ in ours if (i := _accepted_id(r)) is not None]
        held = {
            report.provider_message_id: report
            for report in await uow.outbox.held_reports(provider, reported)
        }
        changed = [
            _decided(row, r.outcome, _held_for(held, r), provider=provider, now=now, retry=retry)
            for r, row in ours
        ]
        await uow.outbox.update_many(changed)
        await uow.outbox.drop_reports(provider, list(held))
        await uow.commit()
    if len(ours) < len(results):
        taken = {r.claimed.id for r, _ in ours}
        for result in results:
            if result.claimed.id not in taken:
                _changed_meanwhile(result)


async def _record_alone(
    uow_factory: UnitOfWorkFactory,
    result: SendResult,
    *,
    provider: str,
    now: datetime,
    retry: Retry,
) -> None:
    try:
        async with uow_factory() as uow:
            row = await uow.outbox.get(_id(result), lock=True)
            if row is None or not _is_ours(row, result):
                _changed_meanwhile(result)
                return
            provider_message_id = _accepted_id(result)
            held = None
            if provider_message_id is not None:
                held = await uow.outbox.held_report(provider, provider_message_id)
            changed = _decided(row, result.outcome, held, provider=provider, now=now, retry=retry)
            await uow.outbox.update(changed)
            if held is not None:
                await uow.outbox.drop_report(provider, held.provider_message_id)
            await uow.commit()
    except Exception:
        _LOG.exception("outbox: recording the send of message %s failed", result.claimed.id)


def _decided(
    row: OutboxMessage,
    outcome: SendOutcome,
    held: HeldReport | None,
    *,
    provider: str,
    now: datetime,
    retry: Retry,
) -> OutboxMessage:
    """What a row still ours becomes after its send (``held``: its report that came first)."""
    if outcome.accepted:
        sent = replace(
            row,
            status=OutboxStatus.SENT,
            lease_until=None,
            provider=provider,
            provider_message_id=outcome.provider_message_id,
            provider_status=outcome.status or None,
            last_error=None,
            sent_at=now,
            updated_at=now,
        )
        if held is None:
            return sent
        changed, _ = after_report(
            sent, status=held.status, reason=held.failure_reason, now=now, retry=retry
        )
        return changed
    if outcome.retryable and row.attempts < retry.policy.max_attempts:
        return requeued(
            row, error=outcome.error, now=now, retry=retry, provider_status=outcome.status
        )
    return replace(
        row,
        status=OutboxStatus.FAILED,
        lease_until=None,
        provider=provider,
        provider_status=outcome.status or None,
        last_error=outcome.error or "refused",
        updated_at=now,
    )


def _is_ours(row: OutboxMessage | None, result: SendResult) -> bool:
    """Whether the row is still as our claim left it (``sending``, same attempt)."""
    return (
        row is not None
        and row.status is OutboxStatus.SENDING
        and row.attempts == result.claimed.attempts
    )


def _accepted_id(result: SendResult) -> str | None:
    """The provider's id for an accepted send (None: refused, or no id given)."""
    return result.outcome.provider_message_id if result.outcome.accepted else None


def _held_for(held: dict[str, HeldReport], result: SendResult) -> HeldReport | None:
    provider_message_id = _accepted_id(result)
    return None if provider_message_id is None else held.get(provider_message_id)


def _changed_meanwhile(result: SendResult) -> None:
    # Reclaimed after our lease expired, or a delivery report got there first.
    _LOG.warning("outbox: message %s changed while it was being sent", result.claimed.id)


def _id(result: SendResult) -> int:
    if result.claimed.id is None:  # pragma: no cover - claimed rows are stored rows
        raise ValueError("an outbox message that was never stored")
    return result.claimed.id
