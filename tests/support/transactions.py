"""Counting a core's units of work and commits, and listing the SMS outbox, for tests.

:func:`counted` gives a copy of a core whose unit-of-work factory counts what it hands out:
units of work opened (read-only ones too, when the core has no separate reader) and commits
that returned. Nothing else changes: the same database, keys and clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from vending_core.service.core import Core
from vending_core.service.messaging_records import OutboxMessage
from vending_core.service.ports import UnitOfWork

__all__ = ["Transactions", "counted", "queued_sms"]

_FAR = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass
class Transactions:
    """What a counted core's units of work did so far."""

    opened: int = 0  #: units of work handed out
    commits: int = 0  #: ``commit()`` calls that returned (a committed transaction each)


def counted(core: Core) -> tuple[Core, Transactions]:
    """A copy of ``core`` whose units of work are counted, and the counts (zero so far)."""
    counts = Transactions()
    new_uow = core.uow

    def factory() -> UnitOfWork:
        uow = new_uow()
        counts.opened += 1
        commit = uow.commit

        async def counted_commit() -> None:
            await commit()
            counts.commits += 1

        # The port is a Protocol with a commit method; the instance's own is wrapped, not
        # replaced: it still runs, the count follows it.
        uow.commit = counted_commit  # type: ignore[method-assign]
        return uow

    return replace(core, uow=factory), counts


async def queued_sms(core: Core) -> list[OutboxMessage]:
    """Every message in the outbox not sent yet, oldest first (nothing is changed).

    Read by claiming every due row in a unit of work that is never committed (the port has
    no listing), so the claim is rolled back.
    """
    async with core.uow() as uow:
        return await uow.outbox.claim_due(_FAR, _FAR + timedelta(minutes=1), 1_000)
