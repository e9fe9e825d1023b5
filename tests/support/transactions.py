"""Counting units of work and commits, and filling and listing the SMS outbox, for tests.

:func:`counting` wraps a unit-of-work factory so that it counts what it hands out: units of
work opened and commits that returned. :func:`counted` gives a copy of a core with its factory
so wrapped (read-only units of work are counted too, when the core has no separate reader).
Nothing else changes: the same database, keys and clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from vending_core.service.core import Core
from vending_core.service.messaging_records import OutboxMessage
from vending_core.service.outbox import enqueue_sms
from vending_core.service.ports import UnitOfWork, UnitOfWorkFactory

__all__ = ["Transactions", "counted", "counting", "queue_token_sms", "queued_sms"]

_FAR = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass
class Transactions:
    """What counted units of work did so far."""

    opened: int = 0  #: units of work handed out
    commits: int = 0  #: ``commit()`` calls that returned (a committed transaction each)


def counting(new_uow: UnitOfWorkFactory) -> tuple[UnitOfWorkFactory, Transactions]:
    """A factory of the units of work ``new_uow`` makes, counted, and the counts (zero so far)."""
    counts = Transactions()

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

    return factory, counts


def counted(core: Core) -> tuple[Core, Transactions]:
    """A copy of ``core`` whose units of work are counted, and the counts (zero so far)."""
    factory, counts = counting(core.uow)
    return replace(core, uow=factory), counts


async def queue_token_sms(
    new_uow: UnitOfWorkFactory,
    numbers: Iterable[int],
    *,
    now: datetime,
    msisdn_prefix: str = "25471234500",
) -> None:
    """Queue the token SMS of vend ``n`` for each of ``numbers``, one committed unit of work each.

    Message ``n``: dedupe key ``vend:<n>:token``, to ``<msisdn_prefix><n>``, text ``Token <n>``,
    kind ``token``, queued at ``now``.
    """
    for n in numbers:
        async with new_uow() as uow:
            await enqueue_sms(
                uow,
                dedupe_key=f"vend:{n}:token",
                msisdn=f"{msisdn_prefix}{n}",
                text=f"Token {n}",
                kind="token",
                now=now,
            )
            await uow.commit()


async def queued_sms(core: Core) -> list[OutboxMessage]:
    """Every message in the outbox not sent yet, oldest first (nothing is changed).

    Read by claiming every due row in a unit of work that is never committed (the port has
    no listing), so the claim is rolled back.
    """
    async with core.uow() as uow:
        return await uow.outbox.claim_due(_FAR, _FAR + timedelta(minutes=1), 1_000)
