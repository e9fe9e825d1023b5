"""In-memory twins of the messaging repositories (outbox, held reports, phone profiles).

Their tables live in :class:`MessagingTables`, one field of the memory database's tables, so
:class:`vending_core.adapters.memory.MemoryUnitOfWork` copies, commits and rolls them back
with everything else. Units of work run one at a time there, so a claim needs no row locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from vending_core.service.messaging_records import (
    HeldReport,
    OutboxMessage,
    OutboxStatus,
    PhoneProfile,
    ProfileMeter,
)

__all__ = ["MemoryOutbox", "MemoryProfiles", "MessagingTables"]


@dataclass
class _Profile:
    language: str | None
    updated_at: datetime
    meters: dict[str, tuple[int, str]] = field(default_factory=dict)  #: number -> position, name


@dataclass
class MessagingTables:
    """The messaging tables of one in-memory database."""

    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    reports: dict[tuple[str, str], HeldReport] = field(default_factory=dict)
    profiles: dict[str, _Profile] = field(default_factory=dict)
    next_id: int = 1


class MemoryOutbox:
    """``ports.OutboxRepository`` over :class:`MessagingTables`."""

    def __init__(self, tables: MessagingTables) -> None:
        self._t = tables

    async def add(self, message: OutboxMessage) -> OutboxMessage | None:
        """Insert unless the dedupe key exists (then None)."""
        if await self.get_by_key(message.dedupe_key) is not None:
            return None
        stored = replace(message, id=self._t.next_id)
        self._t.next_id += 1
        self._t.outbox[_stored_id(stored)] = stored
        return stored

    async def get(self, message_id: int, *, lock: bool = False) -> OutboxMessage | None:
        """The message with that id."""
        return self._t.outbox.get(message_id)

    async def get_by_key(self, dedupe_key: str) -> OutboxMessage | None:
        """The message with that dedupe key."""
        found = [m for m in self._t.outbox.values() if m.dedupe_key == dedupe_key]
        return found[0] if found else None

    async def get_by_provider_id(
        self, provider: str, provider_message_id: str, *, lock: bool = False
    ) -> OutboxMessage | None:
        """The message the provider knows by that id."""
        for message in self._t.outbox.values():
            if (message.provider, message.provider_message_id) == (provider, provider_message_id):
                return message
        return None

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due messages, oldest due first; mark them ``sending``."""
        due = sorted(
            (m for m in self._t.outbox.values() if _due(m, now)),
            key=lambda m: (m.next_attempt_at, _stored_id(m)),
        )[:limit]
        claimed = []
        for message in due:
            taken = replace(
                message,
                status=OutboxStatus.SENDING,
                lease_until=lease_until,
                attempts=message.attempts + 1,
                updated_at=now,
            )
            self._t.outbox[_stored_id(taken)] = taken
            claimed.append(taken)
        return claimed

    async def update(self, message: OutboxMessage) -> None:
        """Store every field of a stored message (KeyError if it was never stored)."""
        message_id = _stored_id(message)
        if message_id not in self._t.outbox:
            raise KeyError(f"no outbox message {message_id} to update")
        self._t.outbox[message_id] = message

    async def lock_many(self, message_ids: Sequence[int]) -> list[OutboxMessage]:
        """The stored messages among ``message_ids``, ordered by id (no locks needed here)."""
        found = (self._t.outbox.get(message_id) for message_id in sorted(set(message_ids)))
        return [message for message in found if message is not None]

    async def update_many(self, messages: Sequence[OutboxMessage]) -> None:
        """Store every field of each message (KeyError, and nothing stored, if one is new)."""
        missing = [m.id for m in messages if m.id is None or m.id not in self._t.outbox]
        if missing:
            raise KeyError(f"no outbox messages {missing} to update")
        for message in messages:
            self._t.outbox[_stored_id(message)] = message

    async def held_report(self, provider: str, provider_message_id: str) -> HeldReport | None:
        """The report held for that provider message id."""
        return self._t.reports.get((provider, provider_message_id))

    async def held_reports(
        self, provider: str, provider_message_ids: Sequence[str]
    ) -> list[HeldReport]:
        """The reports held for any of those ids of ``provider``."""
        found = (self._t.reports.get((provider, i)) for i in dict.fromkeys(provider_message_ids))
        return [report for report in found if report is not None]

    async def hold_report(self, report: HeldReport) -> None:
        """Insert or replace the held report."""
        self._t.reports[(report.provider, report.provider_message_id)] = report

    async def drop_report(self, provider: str, provider_message_id: str) -> None:
        """Forget the held report."""
        self._t.reports.pop((provider, provider_message_id), None)

    async def drop_reports(self, provider: str, provider_message_ids: Sequence[str]) -> None:
        """Forget the held reports of those ids of ``provider``."""
        for provider_message_id in provider_message_ids:
            self._t.reports.pop((provider, provider_message_id), None)


def _due(message: OutboxMessage, now: datetime) -> bool:
    if message.status is OutboxStatus.QUEUED:
        return message.next_attempt_at <= now
    if message.status is OutboxStatus.SENDING:
        return message.lease_until is not None and message.lease_until <= now
    return False


def _stored_id(message: OutboxMessage) -> int:
    if message.id is None:  # pragma: no cover - programming error
        raise ValueError("an outbox message that was never stored")
    return message.id


class MemoryProfiles:
    """``ports.ProfileRepository`` over :class:`MessagingTables`."""

    def __init__(self, tables: MessagingTables) -> None:
        self._t = tables

    async def get(self, msisdn: str) -> PhoneProfile | None:
        """The phone's language and meters in position order (None: nothing stored)."""
        profile = self._t.profiles.get(msisdn)
        if profile is None:
            return None
        ordered = sorted(profile.meters.items(), key=lambda item: (item[1][0], item[0]))
        meters = tuple(ProfileMeter(number=n, name=name) for n, (_, name) in ordered)
        return PhoneProfile(msisdn=msisdn, language=profile.language, meters=meters)

    async def lock(self, msisdn: str, at: datetime) -> None:
        """Create the profile if missing (units of work are serialised already)."""
        self._t.profiles.setdefault(msisdn, _Profile(language=None, updated_at=at))

    async def set_language(self, msisdn: str, language: str | None, at: datetime) -> None:
        """Insert or update the phone's language."""
        profile = self._t.profiles.setdefault(msisdn, _Profile(language=None, updated_at=at))
        profile.language = language
        profile.updated_at = at

    async def save_meter(self, msisdn: str, meter: ProfileMeter, position: int) -> None:
        """Insert the meter, or update its name and position."""
        self._t.profiles[msisdn].meters[meter.number] = (position, meter.name)

    async def remove_meter(self, msisdn: str, number: str) -> bool:
        """Delete the meter from the list; False if it was not there."""
        profile = self._t.profiles.get(msisdn)
        return profile is not None and profile.meters.pop(number, None) is not None
