"""``vendgate check-ledger [--no-tokens] [--json]``: prove the ledger's invariants.

Runs :func:`vending_core.service.ledger_check.check_ledger` on the configured database
(``VENDGATE_DATABASE_URL``, vending keys decrypted with ``VENDGATE_KEY_ENCRYPTION_KEY``),
read-only and without migrating. Prints one line per invariant (``OK``/``FAIL``, name, what
was checked, the violations) followed by its first examples, or with ``--json`` the whole
report as one JSON document. Progress of the token check goes to stderr after every page of
vends. Exit status: 0 when every invariant holds, 1 when any is violated, 2 when the check
could not run (database unreachable or not migrated, ...).
"""

from __future__ import annotations

import json
import sys

from config.settings import Settings
from vending_core.adapters.compose import sql_core
from vending_core.service.ledger_check import CheckResult, LedgerReport, check_ledger

__all__ = ["check_ledger_command", "format_report"]

_OK, _VIOLATED, _ERROR = 0, 1, 2


def _line(check: CheckResult) -> list[str]:
    status = "OK  " if check.ok else "FAIL"
    plural = "" if check.violations == 1 else "s"
    lines = [
        f"{status} {check.name}: {check.checked} {check.unit} checked,"
        f" {check.violations} violation{plural} ({check.title})"
    ]
    lines += [f"     - {example}" for example in check.examples]
    if check.note:
        lines.append(f"     note: {check.note}")
    return lines


def format_report(report: LedgerReport) -> str:
    """The readable summary: one line per invariant, its examples, then the verdict."""
    lines = [line for check in report.checks for line in _line(check)]
    broken = sum(not check.ok for check in report.checks)
    lines.append("ledger OK" if report.ok else f"ledger BROKEN: {broken} invariant(s) violated")
    return "\n".join(lines)


def _progress(vends: int) -> None:
    print(f"check-ledger: tokens of {vends} vends checked", file=sys.stderr, flush=True)


async def check_ledger_command(settings: Settings, *, tokens: bool, as_json: bool) -> int:
    """Check the configured database; print the report; the exit status (module doc)."""
    try:
        async with sql_core(settings.database_url, settings.key_encryption_key) as core:
            report = await check_ledger(core, decode_tokens=tokens, progress=_progress)
    except Exception as exc:  # the command's boundary: any failure is exit status 2
        print(f"vendgate: check-ledger could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return _ERROR
    print(json.dumps(report.to_dict(), indent=2) if as_json else format_report(report))
    return _OK if report.ok else _VIOLATED
