"""Phone profiles: the language a phone chose and the meters it saved (USSD "My meters").

The USSD engine asks for these through ``LoadProfile``, ``SaveMeter``, ``RemoveMeter`` and
``SetLanguage`` (``ussd_menus.actions``); the gateway maps the results below onto the
engine's ``Profile`` / ``MeterList`` / ``Done``. A phone is keyed by its MSISDN in
international digits (``+`` and spaces are dropped).

Refusals are :class:`~vending_core.domain.errors.VendingError` with stable codes, like the
core's: ``meter-unknown`` / ``meter-number-invalid`` (saving a meter that is not registered),
``meter-list-full`` (ten saved already), ``language-unsupported``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from vending_core.domain.errors import VendingError
from vending_core.service.core import find_meter
from vending_core.service.messaging_records import PhoneProfile, ProfileMeter
from vending_core.service.outbox import normalise_msisdn
from vending_core.service.ports import UnitOfWork, UnitOfWorkFactory

__all__ = [
    "LANGUAGES",
    "MAX_NAME_LENGTH",
    "MAX_SAVED_METERS",
    "MeterListFull",
    "UnsupportedLanguage",
    "load_profile",
    "remove_meter",
    "save_meter",
    "set_language",
]

LANGUAGES: Final = frozenset({"en", "fr", "sw", "ar"})
MAX_SAVED_METERS: Final = 10
MAX_NAME_LENGTH: Final = 64  #: the column's width; longer names are cut
Clock = Callable[[], datetime]


class MeterListFull(VendingError):  # noqa: N818 - named for what happened, like the domain's
    """The phone has the maximum number of saved meters already."""

    code = "meter-list-full"


class UnsupportedLanguage(VendingError):  # noqa: N818 - named like the domain's refusals
    """The language is not one the menus speak."""

    code = "language-unsupported"


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def load_profile(uow_factory: UnitOfWorkFactory, msisdn: str) -> PhoneProfile:
    """The phone's profile; an empty one (no language, no meters) if nothing is stored."""
    phone = normalise_msisdn(msisdn)
    async with uow_factory() as uow:
        profile = await uow.profiles.get(phone)
    return profile or PhoneProfile(msisdn=phone)


async def save_meter(
    uow_factory: UnitOfWorkFactory,
    msisdn: str,
    meter: str,
    name: str,
    *,
    clock: Clock = _utc_now,
) -> PhoneProfile:
    """Save a registered meter under ``name`` (rename it if saved already); the new profile.

    The meter is stored by its printed number whatever was typed (number or PAN). Raises
    MeterUnknown / InvalidMeterNumber for a meter that is not registered, MeterListFull
    when ten other meters are saved.
    """
    phone = normalise_msisdn(msisdn)
    label = " ".join(name.split())[:MAX_NAME_LENGTH]
    async with uow_factory() as uow:
        number = (await find_meter(uow, meter)).number
        await uow.profiles.lock(phone, clock())
        current = await _profile(uow, phone)
        saved = [m.number for m in current.meters]
        if number not in saved and len(saved) >= MAX_SAVED_METERS:
            raise MeterListFull(f"{MAX_SAVED_METERS} meters are saved already; remove one first")
        position = len(saved) + 1 if number not in saved else saved.index(number) + 1
        await uow.profiles.save_meter(phone, ProfileMeter(number=number, name=label), position)
        profile = await _profile(uow, phone)
        await uow.commit()
    return profile


async def remove_meter(
    uow_factory: UnitOfWorkFactory, msisdn: str, meter: str, *, clock: Clock = _utc_now
) -> PhoneProfile:
    """Remove a meter from the phone's list (typed as saved, or as its PAN); the new profile.

    Removing a meter that is not in the list changes nothing (not an error).
    """
    phone = normalise_msisdn(msisdn)
    typed = meter.replace(" ", "").replace("-", "")
    async with uow_factory() as uow:
        await uow.profiles.lock(phone, clock())
        removed = await uow.profiles.remove_meter(phone, typed)
        if not removed:
            number = await _registered_number(uow, typed)
            removed = number is not None and await uow.profiles.remove_meter(phone, number)
        profile = await _profile(uow, phone)
        if removed:  # close the gap: positions stay 1..n
            for position, kept in enumerate(profile.meters, start=1):
                await uow.profiles.save_meter(phone, kept, position)
        await uow.commit()
    return profile


async def _registered_number(uow: UnitOfWork, typed: str) -> str | None:
    try:
        return (await find_meter(uow, typed)).number
    except VendingError:
        return None


async def set_language(
    uow_factory: UnitOfWorkFactory, msisdn: str, language: str, *, clock: Clock = _utc_now
) -> PhoneProfile:
    """Remember the phone's language (``en``, ``fr``, ``sw`` or ``ar``); the new profile."""
    phone = normalise_msisdn(msisdn)
    code = language.strip().lower()
    if code not in LANGUAGES:
        raise UnsupportedLanguage(f"language {language!r} is not one of {sorted(LANGUAGES)}")
    async with uow_factory() as uow:
        await uow.profiles.set_language(phone, code, clock())
        profile = await _profile(uow, phone)
        await uow.commit()
    return profile


async def _profile(uow: UnitOfWork, phone: str) -> PhoneProfile:
    return await uow.profiles.get(phone) or PhoneProfile(msisdn=phone)
