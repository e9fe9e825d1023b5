"""Menu items 2-5 as data: My last tokens, Balance and debt, My meters, Report a fault."""

from __future__ import annotations

import re
from collections.abc import Callable

from ussd_menus.actions import (
    Balance,
    FaultReported,
    GetBalance,
    LastTokens,
    MeterList,
    Refused,
    RemoveMeter,
    ReportFault,
    ResendToken,
    Result,
    SaveMeter,
    Tokens,
    TokenSent,
)
from ussd_menus.menu_kit import (
    CONFIRM_ERRORS,
    LABEL_MAX,
    UNITS,
    meter_items,
    meter_picker,
    meters_json,
    money,
    refusal,
    saved_meters,
    tenths,
    text_of,
    valid_meter,
)
from ussd_menus.screens import Ask, Choice, Field, Go, Item, Outcome, Screen, Stay
from ussd_menus.session import Json, SessionState

__all__ = ["SCREENS", "group_token"]

REFERENCE_MAX = 12
_LABEL = re.compile(r"[^\W_]+(?: [^\W_]+)*")
FAULTS = ("no-power", "token-rejected", "meter-damaged", "other")
_FAULT_LABELS = ("fault.no_power", "fault.rejected", "fault.damaged", "fault.other")


def group_token(token: str) -> str:
    """A 20-digit token in groups of four: ``1234 5678 9012 3456 7890``."""
    digits = "".join(c for c in token if c.isdigit())
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _failed(result: Result) -> Outcome:
    return Go("failed", notice=refusal(result) if isinstance(result, Refused) else "")


# ------------------------------------------------------------------ 2. My last tokens


def _ask_tokens(session: SessionState, meter: str) -> Outcome:
    del session
    return Ask(LastTokens(meter=meter), data={"meter": meter})


def _on_tokens(session: SessionState, result: Result) -> Outcome:
    del session
    if isinstance(result, Tokens):
        if not result.items:
            return Stay("err.no_tokens")
        rows: list[Json] = [
            [str(t.vend_id), t.date, money(t.amount), tenths(t.units_tenths)] for t in result.items
        ]
        return Go("tokens_list", data={"tokens": rows})
    return Stay(refusal(result) if isinstance(result, Refused) else "err.unavailable")


def _token_items(session: SessionState) -> list[Item]:
    rows = session.data.get("tokens")
    items = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, list) and len(row) == 4:  # noqa: PLR2004 - id, date, amount, units
            vend_id, date, amount, units = (str(x) for x in row)
            params = {"date": date, "amount": amount, "units": units, "unit": ""}
            items.append(Item(vend_id, "item.token", params))
    return items


def _resend(session: SessionState, vend_id: str) -> Outcome:
    return Ask(
        ResendToken(meter=text_of(session, "meter"), vend_id=int(vend_id), msisdn=session.msisdn)
    )


def _on_resent(session: SessionState, result: Result) -> Outcome:
    del session
    if isinstance(result, TokenSent):
        return Go("tokens_sent", data={"token": group_token(result.token)})
    return _failed(result)


# ------------------------------------------------------------------ 3. Balance


def _ask_balance(session: SessionState, meter: str) -> Outcome:
    del session
    return Ask(GetBalance(meter=meter), data={"meter": meter})


def _on_balance(session: SessionState, result: Result) -> Outcome:
    del session
    if not isinstance(result, Balance):
        return Stay(refusal(result) if isinstance(result, Refused) else "err.unavailable")
    data = {"debt": money(result.debt), "unit": UNITS.get(result.utility, "")}
    if result.last_date is None:
        return Go("balance_new", data=data)
    data |= {
        "date": result.last_date,
        "amount": money(result.last_amount),
        "units": tenths(result.last_units_tenths),
    }
    return Go("balance_show", data=data)


# ------------------------------------------------------------------ 4. My meters


def _pick_for(op: str) -> Callable[[SessionState], Outcome]:
    def choose(session: SessionState) -> Outcome:
        if not saved_meters(session):
            return Stay("err.no_meters")
        return Go("meters_pick", data={"op": op})

    return choose


def _to_name(session: SessionState, meter: str) -> Outcome:
    del session
    return Go("meters_name", data={"meter": meter})


def _picked(session: SessionState, meter: str) -> Outcome:
    label = dict(saved_meters(session)).get(meter, "")
    if text_of(session, "op") == "remove":
        return Go("meters_remove", data={"meter": meter, "label": label})
    return Go("meters_name", data={"meter": meter, "label": label})


def _valid_label(text: str, session: SessionState) -> str | Stay:
    del session
    label = " ".join(text.split())
    if not 1 <= len(label) <= LABEL_MAX or not _LABEL.fullmatch(label):
        return Stay("err.name")
    return label


def _save(session: SessionState, label: str) -> Outcome:
    meter = text_of(session, "meter")
    return Ask(SaveMeter(msisdn=session.msisdn, meter=meter, name=label), data={"label": label})


def _remove(session: SessionState) -> Outcome:
    return Ask(RemoveMeter(msisdn=session.msisdn, meter=text_of(session, "meter")))


def _on_meters(target: str) -> Callable[[SessionState, Result], Outcome]:
    def handle(session: SessionState, result: Result) -> Outcome:
        del session
        if isinstance(result, MeterList):
            return Go(target, data={"meters": meters_json(result.meters)})
        return Stay(refusal(result) if isinstance(result, Refused) else "err.unavailable")

    return handle


# ------------------------------------------------------------------ 5. Report a fault


def _to_fault(session: SessionState, meter: str) -> Outcome:
    del session
    return Go("fault_kind", data={"meter": meter})


def _report(fault: str) -> Callable[[SessionState], Outcome]:
    def report(session: SessionState) -> Outcome:
        meter = text_of(session, "meter")
        return Ask(ReportFault(msisdn=session.msisdn, meter=meter, fault=fault))

    return report


def _on_fault(session: SessionState, result: Result) -> Outcome:
    del session
    if isinstance(result, FaultReported):
        return Go("fault_done", data={"reference": result.reference[:REFERENCE_MAX]})
    return _failed(result)


_REFUSED = (*CONFIRM_ERRORS, "err.meter-number-invalid")
SCREENS = (
    meter_picker("tokens_meter", _ask_tokens, on_result=_on_tokens, errors=_REFUSED),
    Screen(
        name="tokens_list",
        prompt="tokens.list",
        items=_token_items,
        on_item=_resend,
        on_result=_on_resent,
        errors=("err.choice",),
    ),
    Screen(name="tokens_sent", prompt="end.token", end=True),
    meter_picker("balance_meter", _ask_balance, on_result=_on_balance, errors=_REFUSED),
    Screen(name="balance_show", prompt="balance.show", end=True),
    Screen(name="balance_new", prompt="balance.new", end=True),
    Screen(
        name="meters",
        prompt="meters.title",
        choices=(
            Choice("1", "meters.add", Go("meters_add")),
            Choice("2", "meters.rename", _pick_for("rename")),
            Choice("3", "meters.remove", _pick_for("remove")),
        ),
        errors=("err.choice", "err.no_meters"),
    ),
    Screen(
        name="meters_add",
        prompt="meters.number",
        field=Field(valid_meter, _to_name),
        errors=("err.meter",),
    ),
    Screen(
        name="meters_pick",
        prompt="meters.pick",
        items=meter_items,
        on_item=_picked,
        errors=("err.choice",),
    ),
    Screen(
        name="meters_name",
        prompt="meters.name",
        field=Field(_valid_label, _save),
        on_result=_on_meters("meters_saved"),
        errors=("err.name", *_REFUSED),
    ),
    Screen(
        name="meters_remove",
        prompt="meters.confirm_remove",
        choices=(Choice("1", "opt.yes", _remove),),
        on_result=_on_meters("meters_removed"),
        errors=("err.choice", "err.unavailable"),
    ),
    Screen(name="meters_saved", prompt="end.saved", end=True),
    Screen(name="meters_removed", prompt="end.removed", end=True),
    meter_picker("fault_meter", _to_fault),
    Screen(
        name="fault_kind",
        prompt="fault.kind",
        choices=tuple(
            Choice(str(n), label, _report(code))
            for n, (code, label) in enumerate(zip(FAULTS, _FAULT_LABELS, strict=True), start=1)
        ),
        on_result=_on_fault,
        errors=("err.choice",),
    ),
    Screen(name="fault_done", prompt="end.fault", end=True),
)
