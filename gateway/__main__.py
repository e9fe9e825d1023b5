"""``python -m gateway`` is the ``vendgate`` command."""

from gateway.cli import main

raise SystemExit(main())
