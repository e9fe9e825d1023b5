"""The Vendgate USSD menus as data: main menu, 1 Buy, 6 Language, and the whole menu.

Items 2-5 (My last tokens, Balance, My meters, Report a fault) are in
:mod:`ussd_menus.flows`; shared pieces in :mod:`ussd_menus.menu_kit`. ``build_engine()``
gives the engine that runs :data:`MENU`.
"""

from __future__ import annotations

from collections.abc import Callable

from ussd_menus import flows
from ussd_menus.actions import (
    ConfirmCustomer,
    Customer,
    LoadProfile,
    PaymentStarted,
    Profile,
    Quote,
    QuoteAmount,
    Refused,
    Result,
    SetLanguage,
    StartPurchase,
)
from ussd_menus.engine import Engine
from ussd_menus.menu_kit import (
    AMOUNT_DIGITS,
    CONFIRM_ERRORS,
    MINOR,
    REFUSALS,
    UNITS,
    WHO_MAX,
    meter_picker,
    meters_json,
    money,
    refusal,
    tenths,
    text_of,
    token_groups,
)
from ussd_menus.screens import Ask, Choice, Field, Go, Menu, Outcome, Screen, Stay
from ussd_menus.session import SessionState
from ussd_menus.texts import LANGUAGES, render_text

__all__ = ["MENU", "build_engine", "purchase_key"]


# ------------------------------------------------------------------ main and language


def _on_main_result(session: SessionState, result: Result) -> Outcome:
    if isinstance(result, Profile):
        lang = result.language if result.language in LANGUAGES else session.language
        return Stay(data={"lang": lang, "meters": meters_json(result.meters)})
    return Stay()  # no profile: English, no saved meters


def _set_language(code: str) -> Callable[[SessionState], Outcome]:
    return lambda s: Ask(SetLanguage(msisdn=s.msisdn, language=code), data={"lang": code})


def _on_language_set(session: SessionState, result: Result) -> Outcome:
    del session, result  # the session speaks the new language even if saving it failed
    return Go("main", reset=True)


MAIN = Screen(
    name="main",
    prompt="main.title",
    choices=(
        Choice("1", "main.buy", Go("buy_meter")),
        Choice("2", "main.tokens", Go("tokens_meter")),
        Choice("3", "main.balance", Go("balance_meter")),
        Choice("4", "main.meters", Go("meters")),
        Choice("5", "main.fault", Go("fault_meter")),
        Choice("6", "main.language", Go("language")),
    ),
    on_result=_on_main_result,
    errors=("err.choice",),
)
LANGUAGE = Screen(
    name="language",
    prompt="lang.title",
    choices=tuple(
        Choice(str(n), f"lang.{code}", _set_language(code))
        for n, code in enumerate(LANGUAGES, start=1)
    ),
    on_result=_on_language_set,
    errors=("err.choice",),
)
FAILED = Screen(
    name="failed", prompt="end.failed", end=True, errors=tuple(f"err.{c}" for c in REFUSALS)
)


# ------------------------------------------------------------------ 1. Buy


def purchase_key(session: SessionState) -> str:
    """The idempotency key of this session's purchase: every retry reuses it."""
    return f"ussd:{session.provider}:{session.session_id}:buy"


def _confirm(session: SessionState, meter: str) -> Outcome:
    del session
    return Ask(ConfirmCustomer(meter=meter))


def _customer_data(customer: Customer) -> dict[str, str | int | None]:
    who = ", ".join(x for x in (customer.name.strip(), customer.address.strip()) if x)
    low = -(-customer.min_amount // MINOR)
    high = None if customer.max_amount is None else customer.max_amount // MINOR
    return {
        "meter": customer.meter,
        "who": who[:WHO_MAX],
        "unit": UNITS.get(customer.utility, ""),
        "min": str(max(low, 1)),
        "max": "" if high is None else str(high),
        "min_units": max(low, 1),
        "max_units": high,
    }


def _on_customer(session: SessionState, result: Result) -> Outcome:
    del session
    if isinstance(result, Customer):
        if not result.can_vend:
            return Stay(refusal(Refused(code=result.reason or "meter-blocked")))
        return Go("buy_customer", data=_customer_data(result))
    if isinstance(result, Refused):
        return Stay(refusal(result))
    return Stay("err.unavailable")


def _valid_amount(text: str, session: SessionState) -> str | Stay:
    if not (text.isascii() and text.isdigit() and len(text) <= AMOUNT_DIGITS) or not int(text):
        return Stay("err.amount")
    low, high = session.data.get("min_units"), session.data.get("max_units")
    if isinstance(low, int) and int(text) < low:
        return Stay("err.amount_min")
    if isinstance(high, int) and int(text) > high:
        return Stay("err.amount_max")
    return str(int(text))


def _quote(session: SessionState, amount: str) -> Outcome:
    minor = int(amount) * MINOR
    return Ask(
        QuoteAmount(meter=text_of(session, "meter"), amount=minor),
        data={"amount": money(minor), "amount_minor": minor},
    )


def _on_quote(session: SessionState, result: Result) -> Outcome:
    del session
    if isinstance(result, Quote):
        return Go(
            "buy_quote",
            data={
                "amount": money(result.amount),
                "amount_minor": result.amount,
                "units": tenths(result.units_tenths),
                "vat": money(result.vat),
                "charges": money(result.charges),
                "debt": money(result.debt),
            },
        )
    return Stay(refusal(result) if isinstance(result, Refused) else "err.unavailable")


def _pay(session: SessionState) -> Outcome:
    amount = session.data.get("amount_minor")
    return Ask(
        StartPurchase(
            meter=text_of(session, "meter"),
            amount=amount if isinstance(amount, int) else 0,
            msisdn=session.msisdn,
            idempotency_key=purchase_key(session),
        )
    )


def _on_payment(session: SessionState, result: Result) -> Outcome:
    del session
    if isinstance(result, PaymentStarted) and result.token:
        return Go(
            "buy_token",
            data={
                "reference": result.reference,
                "token": token_groups(result.token),
                "units": tenths(result.units_tenths),
            },
        )
    if isinstance(result, PaymentStarted):
        return Go("buy_done", data={"reference": result.reference})
    return Go("failed", notice=refusal(result) if isinstance(result, Refused) else "")


_PAY = Choice("1", "opt.pay", _pay)
BUY = (
    meter_picker("buy_meter", _confirm, on_result=_on_customer, errors=CONFIRM_ERRORS),
    Screen(
        name="buy_customer",
        prompt="buy.customer",
        choices=(Choice("1", "opt.confirm", Go("buy_amount")),),
        errors=("err.choice",),
    ),
    Screen(
        name="buy_amount",
        prompt="buy.amount",
        field=Field(_valid_amount, _quote),
        on_result=_on_quote,
        errors=(
            "err.amount",
            "err.amount_min",
            "err.amount_max",
            *(f"err.{c}" for c in REFUSALS),
        ),
    ),
    Screen(
        name="buy_quote",
        prompt="buy.quote",
        choices=(_PAY, Choice("2", "opt.details", Go("buy_details"))),
        on_result=_on_payment,
        errors=("err.choice",),
    ),
    Screen(
        name="buy_details",
        prompt="buy.details",
        choices=(_PAY,),
        on_result=_on_payment,
        errors=("err.choice",),
    ),
    Screen(name="buy_done", prompt="end.pay", end=True),
    Screen(name="buy_token", prompt="end.bought", end=True),
)


# ------------------------------------------------------------------ the whole menu


def _open(session: SessionState) -> Outcome:
    return Ask(LoadProfile(msisdn=session.msisdn))


MENU = Menu(
    screens={s.name: s for s in (MAIN, LANGUAGE, FAILED, *BUY, *flows.SCREENS)},
    root="main",
    text=render_text,
    on_open=_open,
)


def build_engine() -> Engine:
    """The engine for :data:`MENU`."""
    return Engine(MENU)
