"""Customer self-service: a meter's balance and last purchase, and "send my token again".

Answers the USSD engine's ``GetBalance`` and ``ResendToken`` actions (``ussd_menus.actions``);
the gateway maps :class:`MeterBalance` onto ``Balance`` and :class:`ResentToken` onto
``TokenSent``. Neither use case mints: a resend queues the stored token again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vending_core.domain.errors import TransactionNotFound
from vending_core.domain.records import TokenKind, Vend, VendKind, VendStatus
from vending_core.service.core import find_meter, find_meter_detail
from vending_core.service.messaging_records import OutboxMessage
from vending_core.service.outbox import enqueue_sms, token_sms_key
from vending_core.service.ports import UnitOfWorkFactory

__all__ = ["MeterBalance", "ResentToken", "get_balance", "resend_token"]

_HISTORY = 20  # vends looked at to find the last purchase (engineering tokens come between)


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterBalance:
    """What a meter owes and its last purchase (minor units; ``last_at`` None: never bought).

    ``debt`` is the debts' outstanding total; ``charges_owing`` the fixed charges a purchase
    could not cover yet (both are recovered from the next purchases).
    """

    meter: str
    utility: str  #: electricity, water, gas
    debt: int
    charges_owing: int
    last_at: datetime | None = None
    last_amount: int = 0
    last_units_tenths: int = 0

    @property
    def owing(self) -> int:
        """Debt plus charges owing."""
        return self.debt + self.charges_owing


async def get_balance(uow_factory: UnitOfWorkFactory, meter: str) -> MeterBalance:
    """The meter's debt and last completed credit purchase (MeterUnknown if unknown)."""
    async with uow_factory() as uow:
        detail = await find_meter_detail(uow, meter)
        meter_id = detail.meter.id
        vends = [] if meter_id is None else await uow.vends.for_meter(meter_id, limit=_HISTORY)
    found = detail.meter
    last = next((v for v in vends if _is_purchase(v)), None)
    balance = MeterBalance(
        meter=found.number,
        utility=found.utility.name.lower(),
        debt=sum(d.outstanding for d in detail.debts),
        charges_owing=found.charges_owing,
    )
    if last is None:
        return balance
    units = sum(t.tenths or 0 for t in last.tokens if t.kind is TokenKind.CREDIT)
    return MeterBalance(
        meter=balance.meter,
        utility=balance.utility,
        debt=balance.debt,
        charges_owing=balance.charges_owing,
        last_at=last.created_at,
        last_amount=last.gross,
        last_units_tenths=units,
    )


def _is_purchase(vend: Vend) -> bool:
    return vend.kind is VendKind.CREDIT and vend.status is VendStatus.COMPLETED


@dataclass(frozen=True, slots=True, kw_only=True)
class ResentToken:
    """The token queued again (20 digits, the vend's first credit token) and its SMS row."""

    token: str
    message: OutboxMessage


async def resend_token(
    uow_factory: UnitOfWorkFactory,
    *,
    meter: str,
    vend_id: int,
    msisdn: str,
    request_key: str,
    render: Callable[[Vend], str],
    now: datetime,
) -> ResentToken:
    """Queue vend ``vend_id``'s stored tokens again by SMS to ``msisdn`` (never re-vends).

    ``render`` writes the text (the gateway's template, in the phone's language). The vend
    must belong to ``meter``: a phone cannot fetch another meter's token by guessing vend
    ids (TransactionNotFound, as for an unknown id). The row's key is
    ``vend:<id>:token:resend:<request_key>``: a retried hop with the same ``request_key``
    queues nothing more. The caller wakes the dispatcher.
    """
    async with uow_factory() as uow:
        found = await find_meter(uow, meter)
        vend = await uow.vends.get(vend_id)
        if vend is None or vend.meter_id != found.id or not vend.tokens:
            raise TransactionNotFound(f"meter {found.number} has no vend {vend_id}")
        credit = [t for t in vend.tokens if t.kind is TokenKind.CREDIT]
        token = (credit or list(vend.tokens))[0].token
        message = await enqueue_sms(
            uow,
            dedupe_key=f"{token_sms_key(vend_id)}:resend:{request_key}",
            msisdn=msisdn,
            text=render(vend),
            kind="resend",
            now=now,
        )
        await uow.commit()
    return ResentToken(token=token, message=message)
