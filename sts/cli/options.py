"""Keys, TIDs and amounts from the command line's options, and :class:`UsageError`.

A decoder key comes as ``--decoder-key`` or is derived from ``--vending-key`` and the meter's
identifiers; a TID comes as ``--tid`` or from ``--issued-at`` (default: now) and
``--base-date``. Anything missing or impossible raises :class:`UsageError`.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sts.codec import DecoderKey
from sts.dkga import derive, dkga02
from sts.identifiers import Pan
from sts.tid import tid_at

__all__ = ["UsageError"]


class UsageError(Exception):
    """The command line asks for something impossible or leaves out what is needed."""


def _hex_bytes(text: str, option: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"{option} must be hexadecimal digits, got {text!r}") from None


def _derive_key(
    args: argparse.Namespace,
    *,
    sgc: str | None = None,
    ti: int | None = None,
    krn: int | None = None,
    kt: int | None = None,
    base_date: int | None = None,
) -> bytes:
    """Derive a decoder key from the options; keyword arguments override them (key change)."""
    ids: dict[str, Any] = {
        "sgc": sgc or args.sgc,
        "ti": args.ti if ti is None else ti,
        "krn": args.krn if krn is None else krn,
        "kt": args.kt if kt is None else kt,
        "base_date": base_date or args.base_date,
    }
    needed = {"vending_key": args.vending_key, "dkga": args.dkga, "meter": args.meter, **ids}
    if args.dkga == 2:
        needed.pop("base_date")
    if missing := [
        f"--{name.replace('_', '-')}" for name, value in needed.items() if value is None
    ]:
        raise UsageError(f"to derive the decoder key, also give {', '.join(missing)}")
    vending_key, pan = _hex_bytes(args.vending_key, "--vending-key"), Pan.parse(args.meter)
    meter = {name: ids[name] for name in ("sgc", "ti", "krn", "kt")}
    if ids["base_date"] is None:  # DKGA02 takes no base date
        return dkga02(vending_key, pan, **meter)
    return derive(args.dkga, vending_key, pan, **meter, base_date=ids["base_date"], ea=args.ea or 7)


def _decoder_key(args: argparse.Namespace) -> DecoderKey:
    if args.decoder_key and args.vending_key:
        raise UsageError("give either --decoder-key or --vending-key, not both")
    if args.decoder_key:
        return DecoderKey.from_hex(args.decoder_key, ea=args.ea)
    if args.vending_key:
        return DecoderKey(_derive_key(args), ea=args.ea or 7)
    raise UsageError(
        "this needs the meter's key: --decoder-key HEX, or --vending-key HEX with --dkga,"
        " --meter, --sgc, --ti, --krn and --base-date"
    )


def _issued_at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--issued-at {text!r} is not a date-time like 2025-05-01T10:30") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _tid(args: argparse.Namespace) -> int:
    if args.tid is not None:
        return int(args.tid)
    if args.base_date is None:
        raise UsageError("give --tid N, or --base-date to compute the TID from --issued-at")
    return tid_at(_issued_at(args.issued_at), args.base_date)


def _currency_units(args: argparse.Namespace) -> int:
    if args.units is not None:
        return int(args.units)
    try:
        units = Decimal(args.amount).scaleb(5)
    except InvalidOperation:
        raise UsageError(f"--amount {args.amount!r} is not a decimal number") from None
    if not units.is_finite() or units != units.to_integral_value():
        raise UsageError("--amount has more than 5 decimal places (the unit is 10^-5)")
    return int(units)
