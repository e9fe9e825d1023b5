"""Building blocks of the menus: formatting, validation, the saved-meter picker, refusals.

Amounts are typed in whole currency units and passed to the core in minor units (``MINOR``
per unit). Values shown on screens are kept in session data already formatted and cut to
the widths below, so every screen fits its budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import MappingProxyType

import sts
from ussd_menus.actions import Refused, Result, SavedMeter
from ussd_menus.screens import Field, Item, Outcome, Screen, Stay
from ussd_menus.session import Json, SessionState
from ussd_menus.texts import CATALOGS

__all__ = [
    "AMOUNT_DIGITS",
    "CONFIRM_ERRORS",
    "LABEL_MAX",
    "MINOR",
    "REFUSALS",
    "UNITS",
    "WHO_MAX",
    "meter_items",
    "meter_picker",
    "meters_json",
    "money",
    "refusal",
    "saved_meters",
    "tenths",
    "text_of",
    "token_groups",
    "valid_meter",
]

MINOR = 100  #: minor units per currency unit
WHO_MAX = 30  #: "name, address" on the confirm screen
LABEL_MAX = 12  #: a saved meter's name
AMOUNT_DIGITS = 7
UNITS = MappingProxyType({"electricity": "kWh", "water": "kL", "gas": "m3"})
#: Refusal codes with a message (``VendingError.code`` values, and ours).
REFUSALS = tuple(
    k.removeprefix("err.") for k in CATALOGS["en"] if k.startswith("err.") and "-" in k
)
CONFIRM_ERRORS = ("err.meter-unknown", "err.meter-blocked", "err.sts-data", "err.unavailable")


# ------------------------------------------------------------------ formatting


def money(minor: int) -> str:
    """Minor units as shown: ``150000`` -> ``1500``, ``150050`` -> ``1500.50``."""
    sign, value = ("-" if minor < 0 else ""), abs(minor)
    whole, cents = divmod(value, MINOR)
    return f"{sign}{whole}" if cents == 0 else f"{sign}{whole}.{cents:02d}"


def tenths(value: int) -> str:
    """Tenths of a unit as shown: ``528`` -> ``52.8``."""
    return f"{value // 10}.{value % 10}"


def token_groups(token: str) -> str:
    """A 20-digit token as customers key it in: ``1234 5678 9012 3456 7890``."""
    return " ".join(token[i : i + 4] for i in range(0, len(token), 4))


def refusal(result: Refused) -> str:
    """The notice key for a refusal code (a generic one for codes without a text)."""
    return f"err.{result.code}" if result.code in REFUSALS else "err.vending-error"


def meters_json(meters: Sequence[SavedMeter]) -> list[Json]:
    """Saved meters as session data."""
    return [[m.number, m.name[:LABEL_MAX]] for m in meters]


def saved_meters(session: SessionState) -> list[tuple[str, str]]:
    """The phone's saved meters as ``(number, name)`` pairs."""
    rows = session.data.get("meters")
    if not isinstance(rows, list):
        return []
    return [
        (str(row[0]), str(row[1]))
        for row in rows
        if isinstance(row, list) and len(row) == 2  # noqa: PLR2004 - [number, name]
    ]


def meter_items(session: SessionState) -> list[Item]:
    """The saved meters as list rows (their names)."""
    return [Item(n, "item.meter", {"label": name or n}) for n, name in saved_meters(session)]


# ------------------------------------------------------------------ validation


def valid_meter(text: str, session: SessionState) -> str | Stay:
    """A meter number as printed: 11 or 13 digits, or the 18-digit PAN (check digit)."""
    del session
    number = text.replace(" ", "").replace("-", "")
    try:
        sts.Pan.parse(number)
    except (sts.StsError, ValueError):
        return Stay("err.meter")
    return number


def meter_picker(
    name: str,
    then: Callable[[SessionState, str], Outcome],
    *,
    on_result: Callable[[SessionState, Result], Outcome] | None = None,
    errors: tuple[str, ...] = (),
) -> Screen:
    """A screen listing the saved meters that also accepts a typed meter number."""
    return Screen(
        name=name,
        prompt="pick.meter",
        items=meter_items,
        on_item=then,
        field=Field(valid_meter, then),
        on_result=on_result,
        errors=("err.choice", "err.meter", *errors),
    )


def text_of(session: SessionState, key: str) -> str:
    """A data value as text ("" when absent)."""
    value = session.data.get(key)
    return "" if value is None else str(value)
