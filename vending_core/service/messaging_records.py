"""Rows of the messaging tables as plain values: the SMS outbox and phone profiles.

The repositories (``ports.OutboxRepository``, ``ports.ProfileRepository``) store and return
these; the use cases in :mod:`vending_core.service.outbox` and
:mod:`vending_core.service.profiles` decide every state change.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "FINAL_STATUSES",
    "HeldReport",
    "OutboxMessage",
    "OutboxStatus",
    "PhoneProfile",
    "ProfileMeter",
]


class OutboxStatus(enum.StrEnum):
    """Where an outbound SMS is.

    ``queued`` → ``sending`` (claimed under a lease) → ``sent`` (provider took it) →
    ``delivered`` / ``undeliverable`` (delivery report). ``failed``: we gave up sending
    (permanent refusal, or the last attempt failed). A ``sending`` row whose lease expired is
    claimed again (its sender crashed or hung).
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNDELIVERABLE = "undeliverable"


#: Statuses nothing moves a message out of (except a late ``Success`` report, which turns
#: ``undeliverable`` into ``delivered``: the handset has the message after all).
FINAL_STATUSES = frozenset(
    {OutboxStatus.DELIVERED, OutboxStatus.FAILED, OutboxStatus.UNDELIVERABLE}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """One row of ``sms_outbox``.

    ``dedupe_key`` is unique: enqueueing the same key again returns the stored row (the
    token SMS of vend 123 is ``vend:123:token``, however often the vend is replayed).
    ``attempts`` counts claims, so an attempt whose sender crashed counts too.
    """

    id: int | None = None
    dedupe_key: str
    msisdn: str  #: international digits without ``+``
    text: str
    kind: str  #: token, resend, notice... (free text for reports)
    status: OutboxStatus = OutboxStatus.QUEUED
    attempts: int = 0
    next_attempt_at: datetime
    lease_until: datetime | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    provider_status: str | None = None  #: the provider's last word (send or delivery report)
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldReport:
    """A delivery report whose message id matched no sent message yet (kept until it does)."""

    provider: str
    provider_message_id: str
    status: str
    failure_reason: str
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileMeter:
    """A meter in a phone's saved list (``number`` is the meter's printed number)."""

    number: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneProfile:
    """A phone's language (None: not chosen yet) and saved meters, in the order saved."""

    msisdn: str
    language: str | None = None
    meters: tuple[ProfileMeter, ...] = ()
