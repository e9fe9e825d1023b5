"""How the command line shows a token: digit groups, fields, a one-line description, reports.

:func:`token_fields` never includes a key change's new-key bits (part of a secret key).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from decimal import Decimal

from sts.amount import CurrencyAmount
from sts.tid import datetime_of
from sts.tokens import (
    ClearCredit,
    CurrencyTransfer,
    ExtendedSet,
    InitiateMeterTest,
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    Token,
    TransferCredit,
    Utility,
)
from sts.vectors import KIND_NAMES

__all__ = ["describe", "grouped", "token_fields"]

_UNITS = {Utility.ELECTRICITY: "kWh", Utility.WATER: "m3", Utility.GAS: "m3", Utility.TIME: ""}
_DERIVED = ("value_tenths", "watts", "units", "control", "manufacturer_code")


def grouped(token: str) -> str:
    """Write 20 token digits in groups of four: ``1234 5678 9012 3456 7890``."""
    return " ".join(token[i : i + 4] for i in range(0, len(token), 4))


def token_fields(token: Token) -> dict[str, object]:
    """A token's fields and derived values; a key change's new-key bits are left out."""
    fields: dict[str, object] = {}
    for item in dataclasses.fields(token):
        value = getattr(token, item.name)
        if isinstance(value, CurrencyAmount):
            fields |= dataclasses.asdict(value) | {"amount_field": value.amount_field}
            fields["sign_exponent"] = value.sign_exponent
        elif isinstance(value, Utility):
            fields[item.name] = value.name.lower()
        elif item.name != "key_bits":  # part of the new (secret) key
            fields[item.name] = value
    fields |= {name: getattr(token, name) for name in _DERIVED if hasattr(token, name)}
    if isinstance(token, KeyChange1 | KeyChange2 | KeyChange3 | KeyChange4):
        fields["kct_section"] = {3: 1, 4: 2, 8: 3, 9: 4}[token.subclass]
    return fields


def describe(token: Token) -> str:  # noqa: PLR0911 - one sentence per kind
    """One line saying what a token does."""
    match token:
        case TransferCredit():
            value = f"{token.value_tenths // 10}.{token.value_tenths % 10}"  # exact tenths
            if token.utility == Utility.TIME:
                return f"time credit {value} (unit not published)"
            return f"credit {value} {_UNITS[token.utility]} of {token.utility.name.lower()}"
        case CurrencyTransfer():
            money = Decimal(token.units).scaleb(-5)
            return f"currency {money} for {token.utility.name.lower()}"
        case SetMaximumPowerLimit() | SetMaximumPhasePowerUnbalanceLimit():
            what = "limit" if isinstance(token, SetMaximumPowerLimit) else "phase unbalance limit"
            return f"maximum power {what}: {token.watts} W"
        case ClearCredit():
            return "clear credit: " + (
                "all registers" if token.register == 0xFFFF else f"register {token.register}"
            )
        case KeyChange1() | KeyChange2() | KeyChange3() | KeyChange4():
            return f"key change, section {token_fields(token)['kct_section']}"
        case InitiateMeterTest():
            return f"meter test (class 1 subclass {token.subclass})"
        case SetTariffRate():
            return f"tariff rate {token.rate} (raw value)"
        case SetWaterMeterFactor():
            return f"water meter factor {token.factor} (raw value)"
        case ExtendedSet():
            return f"extended set: index {token.index} = {token.value}"
    return KIND_NAMES[type(token)].replace("_", " ")


def _report(args: argparse.Namespace, token: Token, text: str) -> dict[str, object]:
    """The JSON object describing one token (printed as text unless --json)."""
    fields = token_fields(token)
    report: dict[str, object] = {"token": text, "grouped": grouped(text)}
    report |= {"class": int(token.token_class), "subclass": token.subclass}
    report |= {"kind": KIND_NAMES[type(token)], "description": describe(token), "fields": fields}
    tid, base_date = fields.get("tid"), getattr(args, "base_date", None)
    if isinstance(tid, int) and base_date is not None:
        report["tid_time"] = f"{datetime_of(tid, base_date):%Y-%m-%d %H:%M}, base date {base_date}"
    return report


def _print_reports(args: argparse.Namespace, reports: list[dict[str, object]]) -> None:
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else {"tokens": reports}, indent=2))
        return
    for report in reports:
        fields = report["fields"]
        tid = fields.get("tid") if isinstance(fields, dict) else None
        when = "" if tid is None else f", TID {tid}"
        when += f" = {report['tid_time']}" if "tid_time" in report else ""
        print(report["grouped"])
        print(f"  {report['description']} (class {report['class']}/{report['subclass']}{when})")
