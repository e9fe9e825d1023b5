"""The STS codec's command line: ``python -m sts`` (also ``vendgate sts``; ``vendgate demo``).

Subcommands: ``check-vectors`` (run vector files), ``generate`` (issue a token), ``decode``,
``derive-key`` and ``demo``. This is the codec's one boundary with the outside world: it
reads files, the clock and randomness, and prints. Bad input ends as ``error: ...`` on
stderr with exit status 2, never a traceback. Keys are never printed, except by
``derive-key``, whose whole purpose is to show one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sts.amount import CurrencyAmount, tenths
from sts.codec import DecoderKey, decode, encode, parse_token, split_class
from sts.dkga import derive, dkga02
from sts.errors import StsError
from sts.identifiers import KeyType, Pan
from sts.keychange import KeyChange
from sts.meter import EntryResult, Meter, MeterResult
from sts.tid import BASE_DATES, datetime_of, next_tid, tid_at
from sts.tokens import (
    ClearCredit,
    ClearTamperCondition,
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
    TokenClass,
    TransferCredit,
    Utility,
)
from sts.vectors import KIND_NAMES, run_lines, vector_lines

__all__ = ["describe", "grouped", "main", "token_fields"]

PROG = "python -m sts"
_UNITS = {Utility.ELECTRICITY: "kWh", Utility.WATER: "m3", Utility.GAS: "m3", Utility.TIME: ""}
_CLASSES = {0: "transfer", 1: "meter test (not encrypted)", 2: "management", 3: "reserved"}
_DERIVED = ("value_tenths", "watts", "units", "control", "manufacturer_code")


class UsageError(Exception):
    """The command line asks for something impossible or leaves out what is needed."""


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


# --- keys, TIDs and amounts from the options ------------------------------------------------


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


# --- subcommands ----------------------------------------------------------------------------


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


# --- demo -----------------------------------------------------------------------------------

_DEMO_PAN = "600727000000000009"
_DEMO_VENDING_KEY = "ABABABABABABABAB949494949494949401234567"  # DKGA04 key of the public vectors
_DEMO_IDS: dict[str, Any] = {"sgc": "201457", "ti": 1, "kt": KeyType.DUTK, "base_date": 2014}


def _demo_key(krn: int) -> DecoderKey:
    """The demo meter's decoder key of revision ``krn``, as the vending system derives it."""
    vending_key, pan = bytes.fromhex(_DEMO_VENDING_KEY), Pan.parse(_DEMO_PAN)
    return DecoderKey(derive(4, vending_key, pan, krn=krn, ea=7, **_DEMO_IDS), ea=7)


def _credit(key: DecoderKey, amount: int, tid: int) -> str:
    token = TransferCredit.of(Utility.ELECTRICITY, amount, tid=tid, rnd=secrets.randbelow(16))
    return encode(token, key)


def _enter(meter: Meter, token: str) -> EntryResult:
    """Type ``token`` into the meter and show what it says."""
    entry, credit = meter.enter(token), meter.credit_tenths()
    print(f"     {grouped(token)}")
    kwh = f"{credit // 10}.{credit % 10} kWh"
    print(f"       meter: {entry.message} [{entry.result.name}]; credit {kwh}")
    return entry


def _demo(args: argparse.Namespace) -> int:
    vending_key, pan = bytes.fromhex(_DEMO_VENDING_KEY), Pan.parse(_DEMO_PAN)
    meter = Meter.provision(vending_key=vending_key, dkga=4, pan=pan, krn=1, ea=7, **_DEMO_IDS)
    key, new_key = _demo_key(krn=1), _demo_key(krn=2)
    print("STS demo: the vending side issues 20-digit tokens; a reference meter model checks them.")
    print(f"Demo meter {pan}: SGC 201457, TI 01, KRN 1, KT 2, base date 2014, EA07 (STA).")
    print(f"Its decoder key comes from the demo vending key by DKGA04 ({key!r}).\n")
    tid = tid_at(datetime.now(UTC), 2014)
    token = _credit(key, tenths("25.0"), tid)
    print(f"1. Sell 25.0 kWh now (TID {tid}: minutes since 2014-01-01) and enter the token:")
    first = _enter(meter, token)
    print("2. Enter the same token a second time: a meter takes each token only once.")
    again = _enter(meter, token)
    change = KeyChange(new_key=new_key.key, krn=2, kt=KeyType.DUTK, ti=1)
    print(f"3. Re-key the meter to KRN 2: a {change.set_size}-token key change, under the old key.")
    rekeyed = [_enter(meter, encode(section, key)) for section in change.sections()]
    tid = next_tid(tid_at(datetime.now(UTC), 2014), tid)
    print(f"4. Sell 10.0 kWh under the new key (TID {tid}) and enter it:")
    last = _enter(meter, _credit(new_key, 100, tid))
    steps = (first.accepted, again.result == MeterResult.USED, last.accepted)
    if all(steps) and all(entry.accepted for entry in rekeyed):
        print("\nDone: each new token loaded once, the repeat was refused as used.")
        return 0
    print("\nThe meter did not answer as expected: see the results above.")
    return 1


# --- the parser -----------------------------------------------------------------------------

_KEY = "--decoder-key 87F3ECBB2E46B48F --base-date 2014"
_OLD_KEY = "--decoder-key E653341F9D5BF36F --base-date 1993"
_VENDING = "--vending-key ABABABABABABABAB --dkga 2 --meter 600727000000000009 --sgc 123456"
_DEFAULT = "default: %(default)s"
_UTILITIES = [utility.name.lower() for utility in Utility]
_Adder = Callable[[argparse.ArgumentParser], None]


def _required_ints(*options: tuple[str, str]) -> _Adder:
    def add(parser: argparse.ArgumentParser) -> None:
        for flag, text in options:
            parser.add_argument(flag, type=int, required=True, help=text)

    return add


def _amount_options(amount_help: str, exact: tuple[str, str]) -> _Adder:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--utility", choices=_UTILITIES, default="electricity", help=_DEFAULT)
        amount = parser.add_mutually_exclusive_group(required=True)
        amount.add_argument("--amount", metavar="DECIMAL", help=amount_help)
        amount.add_argument(exact[0], type=int, help=exact[1])

    return add


def _register_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--register", type=int, default=0xFFFF, help="default 65535: all")


def _test_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subclass", type=int, choices=(0, 1), default=0, help="default 0")
    parser.add_argument("--control", type=lambda text: int(text, 0), required=True, help="bits")
    parser.add_argument("--manufacturer-code", type=int, default=0, help="default 0: any meter")


def _key_change_options(parser: argparse.ArgumentParser) -> None:
    new = parser.add_argument_group("new key", "--new-decoder-key, or derive it like the old one")
    new.add_argument("--new-decoder-key", metavar="HEX", help="the new key as hex digits")
    new.add_argument("--new-krn", type=int, help="new key revision number (default: --krn)")
    new.add_argument("--new-ti", type=int, help="new tariff index (default: --ti)")
    new.add_argument("--new-kt", type=int, help="new key type (default: --kt)")
    new.add_argument("--new-sgc", help="new SGC; with EA07 it makes a 3-token set carrying it")
    new.add_argument("--new-base-date", type=int, choices=BASE_DATES, help="default: --base-date")
    new.add_argument("--new-ken", type=int, default=255, help="key expiry (default 255: never)")
    new.add_argument("--ro", action="store_true", help="rollover: clear the meter's TID memory")


_GENERATE: dict[str, tuple[str, _Adder, str]] = {
    "credit": (
        "credit in kWh (electricity) or m3 (water, gas)",
        _amount_options("e.g. 25 or 12.5 (rounded up to 0.1)", ("--tenths", "in 0.1 units")),
        f"credit {_KEY} --amount 25\ncredit {_OLD_KEY} --tid 5871715 --tenths 1",
    ),
    "currency": (
        "currency credit (Edition 3; may be negative)",
        _amount_options("currency units, e.g. 100.50", ("--units", "in 10^-5 currency units")),
        f"currency {_KEY} --amount 100.50",
    ),
    "mpl": (
        "set the maximum power limit",
        _required_ints(("--watts", "W")),
        f"mpl {_KEY} --watts 5000",
    ),
    "mppul": (
        "set the maximum phase power unbalance limit",
        _required_ints(("--watts", "W")),
        f"mppul {_KEY} --watts 1000",
    ),
    "clear-credit": ("clear a credit register", _register_options, f"clear-credit {_KEY}"),
    "tariff-rate": (
        "set the tariff rate (raw)",
        _required_ints(("--rate", "16 bits")),
        f"tariff-rate {_KEY} --rate 120",
    ),
    "water-factor": (
        "set the water meter factor (raw)",
        _required_ints(("--factor", "16 bits")),
        f"water-factor {_KEY} --factor 10",
    ),
    "clear-tamper": ("clear the tamper condition", lambda parser: None, f"clear-tamper {_KEY}"),
    "extended": (
        "extended set (STS 202-5)",
        _required_ints(("--index", "0-63"), ("--value", "0-1023")),
        f"extended {_KEY} --index 63 --value 1",
    ),
    "test": ("meter test, class 1 (needs no key)", _test_options, "test --control 0x1"),
    "key-change": (
        "a key change set (2, 3 or 4 tokens) under the current key",
        _key_change_options,
        f"key-change {_VENDING} --ti 1 --krn 1 --new-ti 2",
    ),
}


def _doc(description: str, examples: str) -> dict[str, Any]:
    lines = "\n".join(f"  {PROG} {line}" for line in examples.splitlines())
    formatter = argparse.RawDescriptionHelpFormatter
    return {
        "description": description,
        "epilog": f"examples:\n{lines}",
        "formatter_class": formatter,
    }


def _add_key_options(parser: argparse.ArgumentParser, *, decoder_key: bool = True) -> None:
    how = "--vending-key with --dkga, --meter, --sgc, --ti, --krn (and --base-date for DKGA04)"
    keys = parser.add_argument_group(
        "meter key", f"--decoder-key, or {how}" if decoder_key else how
    )
    if decoder_key:
        keys.add_argument("--decoder-key", metavar="HEX", help="16 hex digits (EA07) or 32 (EA11)")
    keys.add_argument("--vending-key", metavar="HEX", help="16 hex digits (DKGA02) or 40 (DKGA04)")
    keys.add_argument("--dkga", type=int, choices=(2, 4), help="key derivation algorithm")
    keys.add_argument("--meter", metavar="PAN/DRN", help="meter number: 11/13-digit DRN or PAN")
    keys.add_argument("--sgc", help="supply group code (6 digits)")
    keys.add_argument("--ti", type=int, help="tariff index")
    keys.add_argument("--krn", type=int, help="key revision number (1-9)")
    keys.add_argument("--kt", type=int, default=2, help="key type (default 2: unique key)")
    keys.add_argument("--base-date", type=int, choices=BASE_DATES, help="TID base date")
    keys.add_argument("--ea", type=int, choices=(7, 11), help="7 (STA) or 11 (MISTY1)")


def _add_tid_options(parser: argparse.ArgumentParser) -> None:
    tid = parser.add_argument_group("token identifier", "--tid, or --issued-at with --base-date")
    when = tid.add_mutually_exclusive_group()
    when.add_argument("--tid", type=int, help="the 24-bit TID, used as given")
    when.add_argument("--issued-at", metavar="ISO", help="e.g. 2025-05-01T10:30 (UTC; default now)")
    tid.add_argument("--rnd", type=int, help="the 4-bit random nibble (default: random)")


def _add_generate(commands: Any) -> None:
    examples = "\n".join(f"generate {ex.splitlines()[0]}" for _, _, ex in _GENERATE.values())
    doc = _doc("Issue a token for a meter; 'generate KIND --help' lists its options.", examples)
    kinds = commands.add_parser("generate", help="issue a token", **doc).add_subparsers(
        dest="kind", required=True, metavar="KIND"
    )
    for kind, (summary, add_options, example) in _GENERATE.items():
        lines = "\n".join(f"generate {line}" for line in example.splitlines())
        sub = kinds.add_parser(kind, help=summary, **_doc(f"Issue a token: {summary}.", lines))
        add_options(sub)
        if kind != "test":
            _add_key_options(sub)
        if kind not in ("test", "key-change"):
            _add_tid_options(sub)
        sub.add_argument("--json", action="store_true", help="print JSON instead of text")
        sub.set_defaults(handler=_key_change if kind == "key-change" else _generate)


def _add_command(commands: Any, name: str, summary: str, description: str, examples: str) -> Any:
    parser = commands.add_parser(name, help=summary, **_doc(description, examples))
    parser.set_defaults(handler=_HANDLERS[name])
    return parser


def _version() -> str:
    try:
        return version("vendgate")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_decode(commands: Any) -> None:
    parser = _add_command(
        commands,
        "decode",
        "decode a token and print its fields",
        "Decode a token with the meter's key (class 1 needs none) and print every field.",
        f"decode '2371 6100 5011 8319 4197' {_OLD_KEY}\ndecode 56493153725450313471",
    )
    parser.add_argument("token", help="the 20 digits (spaces or dashes between groups allowed)")
    _add_key_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _build_parser() -> argparse.ArgumentParser:
    vectors = "../shared/sts/vectors"
    examples = f"demo\ncheck-vectors {vectors}/*.jsonl {vectors}/sta_trace.json\n"
    examples += f"generate credit {_KEY} --amount 25\ndecode 23716100501183194197 {_OLD_KEY}"
    summary = "STS (IEC 62055-41) prepayment tokens: issue, decode and check 20-digit tokens."
    parser = argparse.ArgumentParser(prog=PROG, **_doc(summary, examples))
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = _add_command(
        commands,
        "check-vectors",
        "run STS test vector files",
        "Run every vector in the files (JSON Lines, or one JSON object per file). Prints one line"
        " per mismatch and 'N passed, M failed'; exits 1 if a vector failed.",
        f"check-vectors {vectors}/group_a.jsonl {vectors}/sta_trace.json",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="vector files")
    _add_generate(commands)
    _add_decode(commands)
    derive_ = _add_command(
        commands,
        "derive-key",
        "derive and print a meter's decoder key",
        "Derive a meter's decoder key and print it as hex. The key is secret: handle with care.",
        f"derive-key {_VENDING} --ti 1 --krn 1",
    )
    _add_key_options(derive_, decoder_key=False)
    _add_command(
        commands,
        "demo",
        "issue tokens for a demo meter and enter them into the meter model",
        "Issue tokens for a demo meter and enter them into the reference meter model:"
        " a credit (accepted, then refused as used), a key change, a credit under the new key.",
        "demo",
    )
    return parser


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check-vectors": _check_vectors,
    "decode": _decode,
    "derive-key": _derive,
    "demo": _demo,
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return 0 (ok), 1 (a vector failed) or 2 (bad input).

    Args:
        argv: The arguments after the program name; ``None`` means ``sys.argv[1:]``.
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage errors (2): return the status, do not exit
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.handler(args))
    except (UsageError, StsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
