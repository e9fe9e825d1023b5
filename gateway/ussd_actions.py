"""The USSD engine's actions, performed on the vending core, payments and phone profiles.

The engine asks (:mod:`ussd_menus.actions`); :class:`Performer` answers with a result. Every
refusal of the core becomes :class:`~ussd_menus.actions.Refused` with the core's stable code,
and anything unexpected (database down, a bug) becomes ``Refused("unavailable")``, logged
with the action's kind — never an exception into the engine, never a stack trace to a phone.
"""

from __future__ import annotations

import logging
from typing import Final

from gateway.purchases import Purchases
from ussd_menus.actions import (
    Action,
    Balance,
    ConfirmCustomer,
    Customer,
    Done,
    FaultReported,
    GetBalance,
    LastTokens,
    LoadProfile,
    MeterList,
    Profile,
    Quote,
    QuoteAmount,
    Refused,
    RemoveMeter,
    ReportFault,
    ResendToken,
    Result,
    SavedMeter,
    SaveMeter,
    SetLanguage,
    StartPurchase,
    Tokens,
    TokenSent,
)
from ussd_menus.session import SessionState
from vending_core.domain.errors import VendingError
from vending_core.service import operations, profiles, queries, vending
from vending_core.service.core import Core
from vending_core.service.messaging_records import PhoneProfile
from vending_core.service.payment_ports import PaymentError

__all__ = ["Performer"]

_log = logging.getLogger(__name__)
_FAULTS: Final = {
    "no-power": "No power after loading a token",
    "token-rejected": "The meter rejects tokens",
    "meter-damaged": "The meter is damaged",
    "other": "Other fault",
}


def _meters(profile: PhoneProfile) -> tuple[SavedMeter, ...]:
    return tuple(SavedMeter(number=m.number, name=m.name) for m in profile.meters)


class Performer:
    """Answers the engine's actions for one gateway (shared by all sessions)."""

    def __init__(self, core: Core, purchases: Purchases) -> None:
        self.core = core
        self.purchases = purchases

    async def perform(self, action: Action, session: SessionState) -> Result:
        """The action's result; never raises."""
        try:
            return await self._perform(action, session)
        except VendingError as exc:
            return Refused.of(exc)
        except PaymentError as exc:
            return Refused(code=exc.code)
        except Exception:
            _log.exception("ussd action failed", extra={"action": type(action).__name__})
            return Refused(code="unavailable")

    async def _perform(self, action: Action, session: SessionState) -> Result:  # noqa: PLR0911
        core = self.core
        match action:
            case LoadProfile(msisdn=msisdn):
                profile = await profiles.load_profile(core.read_uow, msisdn)
                return Profile(language=profile.language, meters=_meters(profile))
            case ConfirmCustomer(meter=meter):
                return Customer.of(await vending.confirm_customer(core, meter))
            case QuoteAmount(meter=meter, amount=amount):
                return Quote.of(await vending.quote(core, meter, amount))
            case StartPurchase():
                return await self.purchases.start_ussd(action)
            case LastTokens(meter=meter):
                return Tokens.of(await vending.reprint(core, meter))
            case ResendToken(meter=meter, vend_id=vend_id, msisdn=msisdn):
                token = await self.purchases.resend_token(
                    meter, vend_id, msisdn, language=session.language
                )
                return TokenSent(token=token)
            case GetBalance(meter=meter):
                balance = await queries.get_balance(core.read_uow, meter)
                last = balance.last_at
                return Balance(
                    debt=balance.debt,
                    last_date=last.astimezone(core.tz).date().isoformat() if last else None,
                    last_amount=balance.last_amount,
                    last_units_tenths=balance.last_units_tenths,
                    utility=balance.utility,
                )
            case SaveMeter(msisdn=msisdn, meter=meter, name=name):
                saved = await profiles.save_meter(core.uow, msisdn, meter, name)
                return MeterList(meters=_meters(saved))
            case RemoveMeter(msisdn=msisdn, meter=meter):
                left = await profiles.remove_meter(core.uow, msisdn, meter)
                return MeterList(meters=_meters(left))
            case ReportFault(msisdn=msisdn, meter=meter, fault=fault):
                number = await operations.record_maintenance_request(
                    core, meter, _FAULTS.get(fault, _FAULTS["other"]), reported_by=msisdn
                )
                return FaultReported(reference=f"MR{number}")
            case SetLanguage(msisdn=msisdn, language=language):
                await profiles.set_language(core.uow, msisdn, language)
                return Done()
