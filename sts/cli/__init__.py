"""The STS codec's command line: ``python -m sts`` (also ``vendgate sts``; ``vendgate demo``).

Subcommands: ``check-vectors`` (run vector files), ``generate`` (issue a token), ``decode``,
``derive-key`` and ``demo``. This is the codec's one boundary with the outside world: it
reads files, the clock and randomness, and prints. Bad input ends as ``error: ...`` on
stderr with exit status 2, never a traceback. Keys are never printed, except by
``derive-key``, whose whole purpose is to show one.

Modules: :mod:`sts.cli.parser` (arguments, help texts and examples),
:mod:`sts.cli.commands` (the subcommands), :mod:`sts.cli.options` (keys, TIDs and amounts
from the options), :mod:`sts.cli.output` (how tokens are described and printed) and
:mod:`sts.cli.demo`.
"""

from __future__ import annotations

import sys

from sts.cli.options import UsageError
from sts.cli.output import describe, grouped, token_fields
from sts.cli.parser import _build_parser
from sts.errors import StsError

__all__ = ["describe", "grouped", "main", "token_fields"]


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
