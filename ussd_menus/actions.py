"""What the menus ask the caller to do (actions) and what the caller feeds back (results).

The engine never awaits anything: a step that needs the vending core returns an action;
the caller runs it (``vending_core.service`` use cases, profile store, SMS) and passes a
result to ``Engine.resume``. Any refusal or failure comes back as :class:`Refused` with a
stable code (``VendingError.code``, or ``unavailable`` when the core could not answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vending_core.domain.breakdown import Breakdown
from vending_core.domain.errors import VendingError
from vending_core.service.results import CustomerInfo, VendResult

__all__ = [
    "Action",
    "Balance",
    "ConfirmCustomer",
    "Customer",
    "Done",
    "FaultReported",
    "GetBalance",
    "LastTokens",
    "LoadProfile",
    "MeterList",
    "PaymentStarted",
    "Profile",
    "Quote",
    "QuoteAmount",
    "Refused",
    "RemoveMeter",
    "ReportFault",
    "ResendToken",
    "Result",
    "SaveMeter",
    "SavedMeter",
    "SetLanguage",
    "StartPurchase",
    "TokenSent",
    "TokenSummary",
    "Tokens",
]

# ------------------------------------------------------------------ actions (requests)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadProfile:
    """The phone's language and saved meters (first hop of a session)."""

    msisdn: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmCustomer:
    """``confirm_customer(meter)``: who owns the meter, can it be sold to."""

    meter: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteAmount:
    """``quote(meter, amount)``: the split of ``amount`` (minor units), nothing stored."""

    meter: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StartPurchase:
    """Ask the customer's wallet for ``amount``; vend when the payment succeeds.

    ``idempotency_key`` is the same for every retry of this session's purchase.
    """

    meter: str
    amount: int
    msisdn: str
    idempotency_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LastTokens:
    """``reprint(meter)``: the meter's last vends (never mints)."""

    meter: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResendToken:
    """Send the stored token of vend ``vend_id`` by SMS again (never re-vends)."""

    meter: str
    vend_id: int
    msisdn: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GetBalance:
    """The meter's debt and last purchase."""

    meter: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveMeter:
    """Save (or rename) a meter in the phone's list."""

    msisdn: str
    meter: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveMeter:
    """Remove a meter from the phone's list."""

    msisdn: str
    meter: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFault:
    """Open a maintenance request for the meter."""

    msisdn: str
    meter: str
    fault: str  #: no-power | token-rejected | meter-damaged | other


@dataclass(frozen=True, slots=True, kw_only=True)
class SetLanguage:
    """Remember the phone's language."""

    msisdn: str
    language: str


Action = (
    LoadProfile
    | ConfirmCustomer
    | QuoteAmount
    | StartPurchase
    | LastTokens
    | ResendToken
    | GetBalance
    | SaveMeter
    | RemoveMeter
    | ReportFault
    | SetLanguage
)


# ------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedMeter:
    """A meter in the phone's list."""

    number: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Answer to :class:`LoadProfile` (language None: not chosen yet)."""

    language: str | None
    meters: tuple[SavedMeter, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterList:
    """Answer to :class:`SaveMeter` / :class:`RemoveMeter`: the list as it is now."""

    meters: tuple[SavedMeter, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    """Answer to :class:`ConfirmCustomer` (amounts in minor units)."""

    meter: str
    name: str
    address: str
    utility: str
    can_vend: bool
    reason: str | None
    min_amount: int
    max_amount: int | None

    @classmethod
    def of(cls, info: CustomerInfo) -> Customer:
        """From the core's :class:`CustomerInfo`."""
        return cls(
            meter=info.meter_number,
            name=info.name,
            address=info.address,
            utility=info.utility,
            can_vend=info.can_vend,
            reason=info.reason,
            min_amount=info.min_amount,
            max_amount=info.max_amount,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """Answer to :class:`QuoteAmount`: what the customer gets (minor units, tenths)."""

    amount: int
    units_tenths: int
    vat: int
    charges: int  #: fixed and service charges, net of VAT
    debt: int  #: debt recovered, VAT included

    @classmethod
    def of(cls, breakdown: Breakdown) -> Quote:
        """From the core's :class:`Breakdown`."""
        return cls(
            amount=breakdown.gross,
            units_tenths=breakdown.credit_tenths,
            vat=breakdown.vat_total,
            charges=breakdown.fixed_net + breakdown.service_net,
            debt=breakdown.debt_total,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentStarted:
    """Answer to :class:`StartPurchase`: the payment request is on the phone.

    ``token`` (20 digits) and ``units_tenths`` are set when the payment completed and the
    vend was ready while the session could still wait for it; "" / 0 otherwise (the token
    then comes by SMS only).
    """

    reference: str
    token: str = ""
    units_tenths: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSummary:
    """One past vend, as listed on the screen."""

    vend_id: int
    date: str  #: YYYY-MM-DD, local
    amount: int
    units_tenths: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Tokens:
    """Answer to :class:`LastTokens`, newest first."""

    items: tuple[TokenSummary, ...]

    @classmethod
    def of(cls, results: Sequence[VendResult]) -> Tokens:
        """From ``reprint`` (oldest first), newest first for the screen."""
        return cls(
            items=tuple(
                TokenSummary(
                    vend_id=r.vend_id,
                    date=r.created_at.date().isoformat(),
                    amount=r.gross,
                    units_tenths=r.credit_tenths,
                )
                for r in reversed(results)
            )
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSent:
    """Answer to :class:`ResendToken`: the token that was sent (20 digits)."""

    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    """Answer to :class:`GetBalance` (``last_date`` None: never bought)."""

    debt: int
    last_date: str | None
    last_amount: int = 0
    last_units_tenths: int = 0
    utility: str = "electricity"


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultReported:
    """Answer to :class:`ReportFault`."""

    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Done:
    """Answer to an action with nothing to report (:class:`SetLanguage`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """The action was refused or failed: ``code`` picks the message."""

    code: str

    @classmethod
    def of(cls, error: VendingError) -> Refused:
        """From a core refusal."""
        return cls(code=error.code)


Result = (
    Profile
    | MeterList
    | Customer
    | Quote
    | PaymentStarted
    | Tokens
    | TokenSent
    | Balance
    | FaultReported
    | Done
    | Refused
)
