"""The SMS command language, shared by every SMS channel (Africa's Talking, SMPP).

Pure: :func:`parse` turns one message into a :class:`Command` and never raises. Keywords are
case-insensitive, in English, French and Swahili (and Arabic), and extra spaces, tabs and
line breaks between words are ignored::

    BUY <meter> <amount> [<PIN>]     buy credit; with an agent PIN, from the agent's float
    TOKEN [<meter>]                  resend the last token (of the only or first saved meter)
    BAL [<meter>]                    debt and last purchase
    METERS                           the phone's saved meters
    LANG <en|fr|sw|ar>               reply language
    VOUCHER <pin> <meter>            redeem a scratch card for the meter
    HELP                             the commands

Arabic-Indic digits count as digits. Amounts are in currency units with at most two
decimals (``100``, ``99.50``) and become integer minor units. Meter numbers are validated as
on USSD (11 or 13 digits, or the 18-digit PAN, with its check digit). Anything else is
:class:`Invalid` with a text key saying why (``sms.err.*``), so the reply can explain in the
customer's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final

import sts

__all__ = [
    "MAX_AMOUNT_MINOR",
    "Balance",
    "Buy",
    "Command",
    "Help",
    "Invalid",
    "Language",
    "ListMeters",
    "Redeem",
    "Resend",
    "parse",
]

MAX_AMOUNT_MINOR: Final = 10_000_000_00  #: 10 million currency units: no sale is larger
_MINOR: Final = 100
_PIN = re.compile(r"[0-9]{4,8}")
_VOUCHER = re.compile(r"[0-9]{12,20}")
_AMOUNT = re.compile(r"[0-9]{1,9}(?:[.,][0-9]{1,2})?")
#: Arabic-Indic and Extended Arabic-Indic digits, as Arabic keyboards type them, to ASCII.
_DIGITS: Final = str.maketrans(
    {**{0x0660 + d: str(d) for d in range(10)}, **{0x06F0 + d: str(d) for d in range(10)}}
)
_LANGUAGES: Final = frozenset({"en", "fr", "sw", "ar"})
_MAX_TEXT: Final = 480  #: three SMS parts; longer is not a command


@dataclass(frozen=True, slots=True)
class Buy:
    """``BUY <meter> <amount> [<PIN>]``: ``pin`` set means an agent sale from its float."""

    meter: str
    amount: int  #: minor units
    pin: str | None = field(default=None, repr=False)  #: a secret: never in logs


@dataclass(frozen=True, slots=True)
class Resend:
    """``TOKEN [<meter>]``: send the last token again (None: the phone's first saved meter)."""

    meter: str | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    """``BAL [<meter>]``."""

    meter: str | None = None


@dataclass(frozen=True, slots=True)
class ListMeters:
    """``METERS``."""


@dataclass(frozen=True, slots=True)
class Language:
    """``LANG <code>``."""

    code: str


@dataclass(frozen=True, slots=True)
class Redeem:
    """``VOUCHER <pin> <meter>``: a scratch card's PIN (digits only; dashes dropped)."""

    pin: str = field(repr=False)  #: a secret: never in logs
    meter: str


@dataclass(frozen=True, slots=True)
class Help:
    """``HELP``, or an empty message."""


@dataclass(frozen=True, slots=True)
class Invalid:
    """Not a command we can run; ``reason`` is a text key (``sms.err.*``)."""

    reason: str
    keyword: str = ""  #: the keyword we recognised, if any (for a command-specific hint)


Command = Buy | Resend | Balance | ListMeters | Language | Redeem | Help | Invalid

# Keywords by command, in English, French, Swahili and Arabic (upper-cased; Arabic as is).
_KEYWORDS: Final = {
    "BUY": ("BUY", "ACHAT", "ACHETER", "NUNUA", "شراء"),
    "TOKEN": ("TOKEN", "CODE", "TOKENI", "رمز"),
    "BAL": ("BAL", "BALANCE", "SOLDE", "SALIO", "رصيد"),
    "METERS": ("METERS", "METER", "COMPTEURS", "MITA", "عدادات"),
    "LANG": ("LANG", "LANGUE", "LUGHA", "لغة"),
    "VOUCHER": ("VOUCHER", "CARTE", "VOCHA", "قسيمة"),
    "HELP": ("HELP", "AIDE", "MSAADA", "مساعدة", "?"),
}
_COMMAND_OF: Final = {word: command for command, words in _KEYWORDS.items() for word in words}


def parse(text: str) -> Command:  # noqa: PLR0911 - one return per command
    """The command in one SMS; never raises."""
    if len(text) > _MAX_TEXT:
        return Invalid("sms.err.unknown")
    words = text.translate(_DIGITS).split()
    if not words:
        return Help()
    keyword = _COMMAND_OF.get(words[0].upper())
    if keyword is None:
        return Invalid("sms.err.unknown")
    args = words[1:]
    match keyword:
        case "BUY":
            return _buy(args)
        case "TOKEN" | "BAL":
            return _optional_meter(keyword, args)
        case "METERS":
            return ListMeters() if not args else Invalid("sms.err.usage", keyword)
        case "LANG":
            return _language(args)
        case "VOUCHER":
            return _voucher(args)
    return Help()


def _meter(text: str) -> str | None:
    number = text.replace("-", "")
    try:
        sts.Pan.parse(number)
    except (sts.StsError, ValueError):
        return None
    return number


def _amount(text: str) -> int | None:
    if not _AMOUNT.fullmatch(text):
        return None
    try:
        minor = int(Decimal(text.replace(",", ".")) * _MINOR)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None
    return minor if 0 < minor <= MAX_AMOUNT_MINOR else None


def _buy(args: list[str]) -> Command:
    if len(args) not in {2, 3}:
        return Invalid("sms.err.usage", "BUY")
    meter, amount = _meter(args[0]), _amount(args[1])
    if meter is None:
        return Invalid("sms.err.meter", "BUY")
    if amount is None:
        return Invalid("sms.err.amount", "BUY")
    pin = args[2] if len(args) == 3 else None  # noqa: PLR2004 - BUY meter amount PIN
    if pin is not None and not _PIN.fullmatch(pin):
        return Invalid("sms.err.pin", "BUY")
    return Buy(meter=meter, amount=amount, pin=pin)


def _optional_meter(keyword: str, args: list[str]) -> Command:
    if len(args) > 1:
        return Invalid("sms.err.usage", keyword)
    meter = _meter(args[0]) if args else None
    if args and meter is None:
        return Invalid("sms.err.meter", keyword)
    return Resend(meter) if keyword == "TOKEN" else Balance(meter)


def _language(args: list[str]) -> Command:
    if len(args) != 1 or args[0].lower() not in _LANGUAGES:
        return Invalid("sms.err.language", "LANG")
    return Language(args[0].lower())


def _voucher(args: list[str]) -> Command:
    if len(args) != 2:  # noqa: PLR2004 - VOUCHER pin meter
        return Invalid("sms.err.usage", "VOUCHER")
    pin = args[0].replace("-", "")
    if not _VOUCHER.fullmatch(pin):
        return Invalid("sms.err.voucher", "VOUCHER")
    meter = _meter(args[1])
    if meter is None:
        return Invalid("sms.err.meter", "VOUCHER")
    return Redeem(pin=pin, meter=meter)
