"""``vendgate check-ledger`` on SQLite and PostgreSQL: exit status 0, 1 or 2 and its lines.

The database is filled the way an operator would: ``vendgate demo-data`` then ``vendgate
vend 00000000026 50`` (meter 2 is registered for Free Basic Electricity, so the sale issues
two tokens: free basic, then credit; no vendor, so no float moves). The development
key-encryption key is used throughout (no ``VENDGATE_KEY_ENCRYPTION_KEY``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.cli import main
from vending_core.adapters.db import create_engine

METER = "00000000026"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """An empty database of each kind as VENDGATE_DATABASE_URL; its URL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        factory: Callable[[str], str] = request.getfixturevalue("postgres_database_factory")
        url = factory("ledger_cli")
    monkeypatch.setenv("VENDGATE_DATABASE_URL", url)
    monkeypatch.delenv("VENDGATE_KEY_ENCRYPTION_KEY", raising=False)
    return url


def _sql(url: str, statement: str) -> None:
    async def run() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def _sell(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data"]) == 0
    assert main(["vend", METER, "50", "--request-id", "cli-1"]) == 0
    capsys.readouterr()


def test_a_clean_ledger_exits_0_with_one_ok_line_per_invariant(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five OK lines (1 vend, 2 tokens, 1 vendor without entries) and the verdict; exit 0."""
    _sell(capsys)
    assert main(["check-ledger"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "OK   payment-vends: 0 payments checked, 0 violations"
        " (every successful payment has exactly one vend)",
        "OK   vend-tokens: 1 vends checked, 0 violations (every vend has its tokens)",
        "OK   unique-tids: 2 tokens checked, 0 violations (no two tokens of a meter share a TID)",
        "OK   vendor-ledgers: 1 vendors checked, 0 violations (vendor balances equal their ledger)",
        "OK   tokens-load: 2 tokens checked, 0 violations"
        " (every token decodes and loads on the reference meter)",
        "ledger OK",
    ]
    assert "check-ledger: tokens of 1 vends checked" in captured.err


def test_a_violation_exits_1_and_names_it(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The credit token's stored tenths + 1: FAIL tokens-load with the example; exit 1.

    R50.00 on RES-BLOCK: VAT 15 % is 50.00 - 50.00 / 1.15 = 6.52, net 43.48 at R1.60/kWh
    = 27.175 kWh, credited as 27.1 kWh = 271 tenths; stored now 272. Without the token check
    (--no-tokens) the same ledger holds: exit 0.
    """
    _sell(capsys)
    _sql(database, "UPDATE vend_tokens SET tenths = tenths + 1 WHERE kind = 'credit'")
    assert main(["check-ledger"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [
        "FAIL tokens-load: 2 tokens checked, 1 violation"
        " (every token decodes and loads on the reference meter)",
        f"     - vend 1 token 2 (credit, meter {METER}): carries 271 tenths, stored 272",
        "ledger BROKEN: 1 invariant(s) violated",
    ]
    assert main(["check-ledger", "--no-tokens"]) == 0
    assert "tokens-load" not in capsys.readouterr().out


def test_json_report(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one document: ok false, the failing check with its count and example."""
    _sell(capsys)
    _sql(database, "DELETE FROM vend_tokens")
    assert main(["check-ledger", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    failing = [check for check in report["checks"] if not check["ok"]]
    assert failing == [
        {
            "name": "vend-tokens",
            "title": "every vend has its tokens",
            "ok": False,
            "checked": 1,
            "unit": "vends",
            "violations": 1,
            "examples": [f"vend 1 (credit, meter {METER}): no tokens"],
            "note": "",
        }
    ]


def test_a_database_without_the_schema_exits_2(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing migrated (check-ledger never migrates): the check cannot run, exit 2."""
    assert main(["check-ledger"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("vendgate: check-ledger could not run:")
