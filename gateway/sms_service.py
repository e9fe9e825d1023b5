"""SMS commands from customers, answered by SMS (every SMS channel uses this one service).

:meth:`SmsService.handle` takes one inbound message (mobile-originated, "MO"), runs its command
(:mod:`ussd_menus.sms_commands`) and queues exactly one reply in the outbox, in the phone's
language. Redelivery is normal (Africa's Talking retries a callback, an SMSC redelivers after a
lost ``deliver_sm_resp``): the reply's outbox key is the message's ``(channel, id)``, a message
whose reply is queued is not run again, and a purchase started by it is keyed by the same id —
so one MO gets one reply and at most one payment, however often it arrives.

Replies tell a stranger no more than the USSD menus show anyone who types a meter number.
A phone that sends too many messages gets one "slow down" reply per window, then silence.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.purchases import Purchases, token_params, token_sms
from ussd_menus import sms_commands as cmd
from ussd_menus.menu_kit import REFUSALS, money, tenths
from ussd_menus.texts import render_text
from vending_core.domain.agents import AgentUnknown
from vending_core.domain.errors import VendingError
from vending_core.service import agents, outbox, profiles, queries, vending
from vending_core.service.payment_ports import PaymentError

__all__ = ["InboundSms", "SmsService"]

_log = logging.getLogger(__name__)
_USAGE: Final = {
    "BUY": "BUY <meter> <amount>",
    "TOKEN": "TOKEN <meter>",
    "BAL": "BAL <meter>",
    "METERS": "METERS",
    "LANG": "LANG en|fr|sw|ar",
    "VOUCHER": "VOUCHER <pin> <meter>",
}
Allow = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundSms:
    """One message from a phone. ``message_id`` is the channel's id (unique per channel)."""

    channel: str  #: africastalking, smpp:<bind>...
    message_id: str
    msisdn: str
    text: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _Reply:
    key: str
    params: dict[str, str]


class SmsService:
    """Runs SMS commands on the vending core and queues the replies."""

    def __init__(
        self,
        purchases: Purchases,
        *,
        allow: Allow,
        slow_down: Allow,
        clock: Callable[[], datetime],
        agent_salt: bytes,
    ) -> None:
        self.purchases = purchases
        self.core = purchases.core
        self._allow = allow
        self._slow_down = slow_down
        self._clock = clock
        self._agent_salt = agent_salt

    async def handle(self, sms: InboundSms) -> None:
        """Run the message's command once and queue its reply (nothing if already done)."""
        msisdn = outbox.normalise_msisdn(sms.msisdn)
        key = f"mo:{sms.channel}:{sms.message_id}"
        async with self.core.read_uow() as uow:
            if await uow.outbox.get_by_key(key) is not None:
                return  # a redelivery: the reply is queued already
        if not await self._allow(msisdn):
            if await self._slow_down(msisdn):
                await self._queue(key, msisdn, "sms.slow-down", {}, await self._language(msisdn))
            return
        language = await self._language(msisdn)
        command = cmd.parse(sms.text)
        try:
            reply = await self._run(command, sms, msisdn, language)
        except VendingError as exc:
            reply = _Reply(_refusal_key(exc.code, "err.vending-error"), {})
        except PaymentError as exc:
            reply = _Reply(_refusal_key(exc.code, "err.payment-refused"), {})
        if isinstance(command, cmd.Language):
            language = command.code  # answer in the language just chosen
        if reply is not None:
            await self._queue(key, msisdn, reply.key, reply.params, language)

    async def _run(  # noqa: PLR0911 - one branch per command
        self, command: cmd.Command, sms: InboundSms, msisdn: str, language: str
    ) -> _Reply | None:
        match command:
            case cmd.Buy(meter=meter, amount=amount, pin=None):
                await self.purchases.start_sms(
                    meter=meter,
                    amount=amount,
                    msisdn=msisdn,
                    request_id=sms.message_id,
                    channel=sms.channel,
                )
                return _Reply("sms.paying", {"amount": money(amount), "meter": meter})
            case cmd.Buy() as buy:
                return await self._agent_sale(sms, msisdn, buy)
            case cmd.Resend(meter=meter):
                key = f"mo:{sms.channel}:{sms.message_id}"
                return await self._resend(meter, msisdn, language, key)
            case cmd.Balance(meter=meter):
                return await self._balance(meter, msisdn)
            case cmd.ListMeters():
                profile = await profiles.load_profile(self.core.read_uow, msisdn)
                if not profile.meters:
                    return _Reply("sms.meters.none", {})
                names = ", ".join(f"{m.number} {m.name}".strip() for m in profile.meters)
                return _Reply("sms.meters", {"meters": names})
            case cmd.Language(code=code):
                await profiles.set_language(self.core.uow, msisdn, code)
                return _Reply("sms.lang", {})
            case cmd.Redeem(pin=pin, meter=meter):
                await self.purchases.start_sms(
                    meter=meter,
                    amount=None,
                    msisdn=msisdn,
                    request_id=sms.message_id,
                    channel=sms.channel,
                    voucher_pin=pin,
                )
                return None  # the token SMS is the answer
            case cmd.Help():
                return _Reply("sms.help", {})
            case cmd.Invalid(reason=reason, keyword=keyword):
                return _Reply(reason, {"usage": _USAGE.get(keyword, "HELP")})

    async def _agent_sale(self, sms: InboundSms, msisdn: str, buy: cmd.Buy) -> _Reply:
        """``BUY <meter> <amount> <PIN>`` from an agent: sold from its vendor's float.

        The token comes back in the reply itself (the agent keys it in or passes it on).
        """
        try:
            result = await agents.agent_vend(
                self.core,
                msisdn=msisdn,
                pin=buy.pin or "",
                meter=buy.meter,
                amount=buy.amount,
                client_id=f"sms-agent:{msisdn}",
                request_id=f"{sms.channel}:{sms.message_id}",
                salt=self._agent_salt,
            )
        except AgentUnknown:
            return _Reply("sms.err.agents", {})
        return _Reply("sms.token", token_params(result))

    async def _meter_or_saved(self, meter: str | None, msisdn: str) -> str | None:
        if meter is not None:
            return meter
        profile = await profiles.load_profile(self.core.read_uow, msisdn)
        return profile.meters[0].number if profile.meters else None

    async def _resend(
        self, meter: str | None, msisdn: str, language: str, request_key: str
    ) -> _Reply | None:
        number = await self._meter_or_saved(meter, msisdn)
        if number is None:
            return _Reply("sms.err.which-meter", {"usage": _USAGE["TOKEN"]})
        last = await vending.reprint(self.core, number, limit=1)
        if not last:
            return _Reply("err.no_tokens", {})
        await queries.resend_token(
            self.core.uow,
            meter=number,
            vend_id=last[-1].vend_id,
            msisdn=msisdn,
            request_key=request_key,
            render=lambda vend: token_sms(vend, language),
            now=self._clock(),
        )
        self.purchases.wake_outbox()
        return None  # the token SMS is the answer

    async def _balance(self, meter: str | None, msisdn: str) -> _Reply:
        number = await self._meter_or_saved(meter, msisdn)
        if number is None:
            return _Reply("sms.err.which-meter", {"usage": _USAGE["BAL"]})
        balance = await queries.get_balance(self.core.read_uow, number)
        params = {"meter": number, "debt": money(balance.debt + balance.charges_owing)}
        if balance.last_at is None:
            return _Reply("sms.balance.none", params)
        params |= {
            "date": balance.last_at.astimezone(self.core.tz).date().isoformat(),
            "amount": money(balance.last_amount),
            "units": tenths(balance.last_units_tenths),
        }
        return _Reply("sms.balance", params)

    async def _language(self, msisdn: str) -> str:
        profile = await profiles.load_profile(self.core.read_uow, msisdn)
        return profile.language or "en"

    async def _queue(
        self, key: str, msisdn: str, text_key: str, params: dict[str, str], language: str
    ) -> None:
        text = render_text(language, text_key, params)
        async with self.core.uow() as uow:
            await outbox.enqueue_sms(
                uow, dedupe_key=key, msisdn=msisdn, text=text, kind="reply", now=self._clock()
            )
            await uow.commit()
        self.purchases.wake_outbox()


def _refusal_key(code: str, otherwise: str) -> str:
    return f"err.{code}" if code in REFUSALS else otherwise
