"""The ``vendgate`` command line.

Subcommands:

* ``vendgate sts ...`` hands every argument after ``sts`` unchanged to the STS codec's own
  command line (``python -m sts``), options and ``--help`` included.
* ``vendgate demo`` runs the codec demo (``python -m sts demo``): it issues a token for a
  demo meter and enters it into the reference meter model.

The codec's CLI is imported only when one of these runs, so ``vendgate --help`` and
``vendgate --version`` work without it.
"""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

__all__ = ["main"]

_DISTRIBUTION = "vendgate"
# A prefix character no argument starts with: the ``sts`` subparser then sees every
# argument as positional, so options such as --help reach the codec's CLI untouched.
_NO_OPTIONS = "\0"


def _version() -> str:
    """Return the installed distribution's version, or say that it is not installed."""
    try:
        return version(_DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def _build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with the ``sts`` and ``demo`` subcommands."""
    parser = argparse.ArgumentParser(
        prog="vendgate",
        description="Vendgate: a prepaid-utility vending gateway that issues STS (IEC 62055-41)"
        " tokens.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sts = commands.add_parser(
        "sts",
        help="STS token codec tools; 'vendgate sts --help' lists them",
        description="Run the STS token codec's command line (the same as 'python -m sts').",
        prefix_chars=_NO_OPTIONS,
        add_help=False,
    )
    # REMAINDER, unlike "*", also keeps a literal "--" for the codec's CLI to see.
    sts.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the codec's CLI")
    commands.add_parser(
        "demo",
        help="issue an STS token for a demo meter and enter it into the reference meter model",
        description="Issue an STS token for a demo meter and enter it into the reference"
        " meter model (the same as 'python -m sts demo').",
    )
    return parser


def _run_sts(argv: list[str]) -> int:
    """Run the STS codec's CLI with ``argv`` and return its exit status."""
    from sts.cli import main as sts_main  # noqa: PLC0415 - lazy: only the sts commands need it

    return sts_main(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the ``vendgate`` command line.

    Args:
        argv: The arguments after the program name; ``None`` means ``sys.argv[1:]``.

    Returns:
        The process exit status.
    """
    namespace = _build_parser().parse_args(argv)
    if namespace.command == "demo":
        return _run_sts(["demo"])
    args: list[str] = namespace.args
    return _run_sts(args)
