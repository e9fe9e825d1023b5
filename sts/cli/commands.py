"""The subcommands ``check-vectors``, ``generate``, ``decode`` and ``derive-key``.

Each handler takes the parsed arguments, prints its result and returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

from sts.amount import tenths
from sts.cli.options import (
    UsageError,
    _currency_units,
    _decoder_key,
    _derive_key,
    _hex_bytes,
    _tid,
)
from sts.cli.output import _print_reports, _report, token_fields
from sts.codec import decode, encode, parse_token, split_class
from sts.identifiers import KeyType
from sts.keychange import KeyChange
from sts.tokens import (
    ClearCredit,
    ClearTamperCondition,
    CurrencyTransfer,
    ExtendedSet,
    InitiateMeterTest,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    Token,
    TokenClass,
    TransferCredit,
    Utility,
)
from sts.vectors import run_lines, vector_lines

_CLASSES = {0: "transfer", 1: "meter test (not encrypted)", 2: "management", 3: "reserved"}


def _check_vectors(args: argparse.Namespace) -> int:
    lines: list[tuple[str, str]] = []
    for name in args.files:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            print(f"error: cannot read {name}: {reason}", file=sys.stderr)
            return 2
        lines += vector_lines(name, text)
    report = run_lines(lines)
    for failure in report.failures:
        print(failure)
    print(report.summary)
    return 0 if report.ok else 1


def _build_token(args: argparse.Namespace) -> Token:  # noqa: PLR0911 - one case per kind
    if args.kind == "test":
        return InitiateMeterTest.build(args.control, args.manufacturer_code, subclass=args.subclass)
    tid, rnd = _tid(args), secrets.randbelow(16) if args.rnd is None else args.rnd
    match args.kind:
        case "credit":
            amount = args.tenths if args.tenths is not None else tenths(args.amount)
            return TransferCredit.of(Utility[args.utility.upper()], amount, tid=tid, rnd=rnd)
        case "currency":
            utility = Utility[args.utility.upper()]
            return CurrencyTransfer.of(utility, _currency_units(args), tid=tid)
        case "mpl":
            return SetMaximumPowerLimit.of(args.watts, tid=tid, rnd=rnd)
        case "mppul":
            return SetMaximumPhasePowerUnbalanceLimit.of(args.watts, tid=tid, rnd=rnd)
        case "clear-credit":
            return ClearCredit(tid=tid, rnd=rnd, register=args.register)
        case "tariff-rate":
            return SetTariffRate(tid=tid, rnd=rnd, rate=args.rate)
        case "water-factor":
            return SetWaterMeterFactor(tid=tid, rnd=rnd, factor=args.factor)
        case "extended":
            return ExtendedSet(tid=tid, rnd=rnd, index=args.index, value=args.value)
    return ClearTamperCondition(tid=tid, rnd=rnd)


def _generate(args: argparse.Namespace) -> int:
    token = _build_token(args)
    key = None if args.kind == "test" else _decoder_key(args)
    _print_reports(args, [_report(args, token, encode(token, key))])
    return 0


def _key_change(args: argparse.Namespace) -> int:
    key = _decoder_key(args)
    krn = args.new_krn if args.new_krn is not None else args.krn
    ti = args.new_ti if args.new_ti is not None else args.ti
    if krn is None or ti is None:
        raise UsageError("give the new key's --new-krn and --new-ti (or --krn and --ti)")
    kt = args.new_kt if args.new_kt is not None else args.kt
    if args.new_decoder_key:
        new_key = _hex_bytes(args.new_decoder_key, "--new-decoder-key")
    elif args.vending_key:
        dates = {"sgc": args.new_sgc, "base_date": args.new_base_date}
        new_key = _derive_key(args, ti=ti, krn=krn, kt=kt, **dates)
    else:
        raise UsageError("give --new-decoder-key, or --vending-key to derive the new key")
    sgc = args.new_sgc or (args.sgc if len(new_key) == 16 else None)  # EA11 sets carry the SGC
    ids = {"krn": krn, "kt": KeyType(kt), "ti": ti, "ken": args.new_ken}
    change = KeyChange(new_key=new_key, ro=args.ro, sgc=sgc, **ids)
    reports = [_report(args, section, encode(section, key)) for section in change.sections()]
    _print_reports(args, reports)
    if not args.json:
        print(f"Enter all {change.set_size} tokens; the meter changes key when it has them all.")
    return 0


def _decode(args: argparse.Namespace) -> int:
    token_class, _ = split_class(parse_token(args.token))
    key = None if token_class == TokenClass.METER_TEST else _decoder_key(args)
    token = decode(args.token, key)
    report = _report(args, token, f"{parse_token(args.token):020d}")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows = {"token": report["grouped"], "class": f"{token_class} ({_CLASSES[token_class]})"}
    rows |= {"subclass": token.subclass, "kind": f"{report['kind']}: {report['description']}"}
    fields = token_fields(token)
    rows |= {name: fields[name] for name in fields if name != "subclass"}
    if "tid_time" in report:
        rows["tid"] = f"{fields['tid']} ({report['tid_time']})"
    for name, value in rows.items():
        print(f"{name + ':':<19}{value}")
    return 0


def _derive(args: argparse.Namespace) -> int:
    print(_derive_key(args).hex().upper())
    return 0
