"""The outbox's decisions as pure functions: retry schedule and delivery-report transitions.

No I/O: :mod:`vending_core.service.outbox` reads rows, asks these functions what the row
becomes, and writes it back.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from vending_core.service.messaging_records import OutboxMessage, OutboxStatus

__all__ = [
    "DeliveryResult",
    "Random",
    "Retry",
    "RetryPolicy",
    "after_report",
    "is_final_word",
    "requeued",
]

Random = Callable[[], float]  #: uniform in [0, 1), like ``random.random``

_DELIVERED_WORDS = frozenset({"success", "delivered", "delivrd"})
_FAILED_WORDS = frozenset({"failed", "rejected", "expired", "undeliverable", "undeliv", "rejectd"})


def _default_retryable_reasons() -> frozenset[str]:
    # Africa's Talking failureReason values that say "try later", not "never":
    # our own account ran dry, or a transient network-side failure.
    return frozenset({"InsufficientCredit", "DeliveryFailure"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how soon to try a message again.

    After the *n*-th failed attempt the next is due ``min(base_delay * 2**(n-1), max_delay)``
    later, scaled by ``1 + jitter * (2u - 1)`` with ``u`` from the injected RNG (so with
    ``jitter=0.2`` anywhere from 0.8x to 1.2x; ``u = 0.5`` gives the plain schedule).
    """

    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.2
    lease: timedelta = timedelta(minutes=2)  #: must outlast the sender's own timeout
    #: delivery-report failure reasons that re-queue the message instead of ending it
    retryable_reasons: frozenset[str] = field(default_factory=_default_retryable_reasons)

    def delay(self, attempts: int, u: float) -> timedelta:
        """The wait after ``attempts`` failed attempts, for the uniform draw ``u``."""
        doublings = min(max(attempts - 1, 0), 40)  # 2**40 x anything is past any cap
        plain = min(self.base_delay * (1 << doublings), self.max_delay)
        return plain * (1 + self.jitter * (2 * u - 1))


class DeliveryResult(enum.StrEnum):
    """What :func:`apply_delivery_report` did."""

    APPLIED = "applied"  #: the message's state changed
    IGNORED = "ignored"  #: a duplicate, or older news than the message's state
    HELD = "held"  #: no sent message has that id (yet): kept for when it is recorded


@dataclass(frozen=True, slots=True)
class Retry:
    """A retry policy with its random source: what the transitions below need."""

    policy: RetryPolicy
    rng: Random

    def next_at(self, attempts: int, now: datetime) -> datetime:
        """When the next attempt is due after ``attempts`` failed ones."""
        return now + self.policy.delay(attempts, self.rng())


def requeued(
    row: OutboxMessage, *, error: str, now: datetime, retry: Retry, provider_status: str = ""
) -> OutboxMessage:
    """The row queued again for its next attempt (backoff from its attempt count)."""
    return replace(
        row,
        status=OutboxStatus.QUEUED,
        next_attempt_at=retry.next_at(row.attempts, now),
        lease_until=None,
        provider_status=provider_status or row.provider_status,
        last_error=error or "not sent",
        updated_at=now,
    )


def after_report(
    row: OutboxMessage, *, status: str, reason: str, now: datetime, retry: Retry
) -> tuple[OutboxMessage, DeliveryResult]:
    """The row after a delivery report, and whether it changed.

    ``delivered`` is sticky; a ``Success`` also lifts ``undeliverable`` / ``queued`` /
    ``failed`` (the handset has it after all). Any other report changes only a ``sent`` row:
    a failure makes it ``undeliverable`` (or ``queued`` when ``reason`` is retryable and
    attempts remain), an intermediate word updates ``provider_status``.
    """
    word = status.strip().lower()
    if row.status is OutboxStatus.DELIVERED:
        return row, DeliveryResult.IGNORED
    if word in _DELIVERED_WORDS:
        delivered = replace(
            row,
            status=OutboxStatus.DELIVERED,
            provider_status=status,
            delivered_at=now,
            lease_until=None,
            updated_at=now,
        )
        return delivered, DeliveryResult.APPLIED
    if row.status is not OutboxStatus.SENT or row.provider_status == status:
        return row, DeliveryResult.IGNORED  # older news, or a duplicate
    if word in _FAILED_WORDS:
        return _failed(row, status=status, reason=reason, now=now, retry=retry)
    return replace(row, provider_status=status, updated_at=now), DeliveryResult.APPLIED


def _failed(
    row: OutboxMessage, *, status: str, reason: str, now: datetime, retry: Retry
) -> tuple[OutboxMessage, DeliveryResult]:
    error = f"{status}: {reason}" if reason else status
    if reason in retry.policy.retryable_reasons and row.attempts < retry.policy.max_attempts:
        return requeued(row, error=error, now=now, retry=retry, provider_status=status), (
            DeliveryResult.APPLIED
        )
    failed = replace(
        row,
        status=OutboxStatus.UNDELIVERABLE,
        provider_status=status,
        last_error=error,
        updated_at=now,
    )
    return failed, DeliveryResult.APPLIED


def is_final_word(status: str) -> bool:
    """Whether a delivery-report status word is final (delivered or failed for good)."""
    word = status.strip().lower()
    return word in _DELIVERED_WORDS or word in _FAILED_WORDS
