"""``python -m sts``: the STS codec's command line (see :mod:`sts.cli`)."""

from __future__ import annotations

import os
import sys

from sts.cli import main


def _run() -> int:
    try:
        return main()
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(_run())
