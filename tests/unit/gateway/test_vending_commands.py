"""``vendgate demo``, ``demo-data``, ``vend``, ``db upgrade``, ``backup``, ``restore`` on SQLite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sts
from gateway.cli import main
from gateway.vending_commands import parse_amount
from vending_core.service.demo_data import DEMO_METERS, DKGA02_KEY


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point VENDGATE_DATABASE_URL at a fresh file for each test."""
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("VENDGATE_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


def _tokens(text: str) -> list[str]:
    return [m.replace(" ", "") for m in re.findall(r"\b\d{4} \d{4} \d{4} \d{4} \d{4}\b", text)]


def test_demo_sells_and_every_token_loads(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo sells twice, the reference meter accepts every token, the replay is a copy."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "REJECT" not in out
    assert out.count("[ACCEPT]") == 3  # FBE + credit for meter 1, credit for meter 10
    assert "(copy)" in out
    assert "the same token; no second sale was made" in out


def test_demo_data_lists_the_meters_once(capsys: pytest.CaptureFixture[str]) -> None:
    """demo-data loads the utility the first time, then reports it present; all meters listed."""
    assert main(["demo-data"]) == 0
    first = capsys.readouterr().out
    assert main(["demo-data"]) == 0
    second = capsys.readouterr().out
    assert "demo data loaded" in first
    assert "already present" in second
    for meter in DEMO_METERS:
        assert meter.number in first


def test_vend_prints_a_token_the_meter_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    """`vend 00000000034 50` sells R50.00 and prints a token for that DKGA02/EA07 meter."""
    main(["demo-data"])
    capsys.readouterr()
    assert main(["vend", "00000000034", "50", "--request-id", "x1"]) == 0
    (token,) = _tokens(capsys.readouterr().out)
    meter = sts.Meter.provision(
        vending_key=DKGA02_KEY,
        dkga=2,
        pan=sts.Pan.parse("00000000034"),
        sgc="123456",
        ti=1,
        krn=1,
        kt=sts.KeyType.DUTK,
        base_date=2014,
        ea=7,
    )
    assert meter.enter(token).result is sts.MeterResult.ACCEPT
    # RES-BLOCK: R50.00 -> VAT 6.52, net 43.48 at R1.60 = 27.175 -> 27.1 kWh
    assert meter.credit_tenths() == 271


def test_vend_refusal_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown meter is refused with its code and exit status 1."""
    main(["demo-data"])
    capsys.readouterr()
    assert main(["vend", "01234567897", "50"]) == 1
    assert "refused (meter-unknown)" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["0", "-5", "1.234", "abc", "NaN"])
def test_bad_amounts(text: str) -> None:
    """Amounts must be positive with at most two decimals."""
    with pytest.raises(ValueError, match="amount"):
        parse_amount(text)


def test_amounts_in_minor_units() -> None:
    """100 -> 10000 cents, 99.5 -> 9950."""
    assert (parse_amount("100"), parse_amount("99.5")) == (10_000, 9_950)


def test_bad_amount_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`vend` with a malformed amount exits 2 with a message, nothing sold."""
    with pytest.raises(SystemExit) as exited:
        main(["vend", "00000000034", "1.234"])
    assert exited.value.code == 2
    assert "amount" in capsys.readouterr().err


def test_db_upgrade(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`db upgrade` creates the schema in the configured file."""
    assert main(["db", "upgrade"]) == 0
    assert database.exists()
    assert "up to date" in capsys.readouterr().out


def test_backup_then_restore(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backup FILE` saves the database; `restore FILE` brings that state back.

    Sale b1 is in the backup, sale b2 is made after it. After the restore, b1 replays (a
    copy, same token) and b2 is unknown again: its request id makes a new sale, not a copy.
    """
    meter = DEMO_METERS[3].number
    assert main(["demo-data"]) == 0
    assert main(["vend", meter, "50", "--request-id", "b1"]) == 0
    first = _tokens(capsys.readouterr().out)
    saved = tmp_path / "saved.bak"
    assert main(["backup", str(saved)]) == 0
    assert main(["vend", meter, "50", "--request-id", "b2"]) == 0
    lost = _tokens(capsys.readouterr().out)
    assert main(["restore", str(saved)]) == 0
    assert "done" in capsys.readouterr().out
    assert main(["vend", meter, "50", "--request-id", "b1"]) == 0
    replayed = capsys.readouterr().out
    assert _tokens(replayed) == first
    assert "(copy)" in replayed
    assert main(["vend", meter, "50", "--request-id", "b2"]) == 0
    sold_again = capsys.readouterr().out
    assert "(copy)" not in sold_again  # a new sale: the first b2 is not in the database
    assert len(_tokens(sold_again)) == len(lost) == 1
    assert main(["restore", str(tmp_path / "missing.bak")]) == 1
    assert "no backup file" in capsys.readouterr().out


def test_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad setting stops the command with a clear message and status 2."""
    monkeypatch.setenv("VENDGATE_UTILITY_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SystemExit) as exited:
        main(["demo"])
    assert exited.value.code == 2
    assert "configuration error" in capsys.readouterr().err
