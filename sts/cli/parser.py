"""The command line's argument parser: subcommands, options, help texts and examples.

``generate`` has one sub-subcommand per token kind (:data:`_GENERATE`: summary, options,
examples); every help page ends with examples that run as shown.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sts.cli.commands import _check_vectors, _decode, _derive, _generate, _key_change
from sts.cli.demo import _demo
from sts.tid import BASE_DATES
from sts.tokens import Utility

__all__ = ["PROG"]

PROG = "python -m sts"
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
