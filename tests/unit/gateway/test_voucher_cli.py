import asyncio
import base64
import csv
import hashlib
import hmac
import re
import stat
from pathlib import Path

import pytest

from gateway.cli import main
from vending_core.adapters.compose import sql_core

KEK = bytes(range(32))  #: set as VENDGATE_KEY_ENCRYPTION_KEY (base64) by the fixture
#: gateway.app.voucher_salt, by hand: HMAC-SHA256(KEK, "vendgate voucher pins").
SALT = hmac.new(KEK, b"vendgate voucher pins", hashlib.sha256).digest()


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite file (migrated by the command) and a known key-encryption key."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("VENDGATE_DATABASE_URL", url)
    monkeypatch.setenv("VENDGATE_KEY_ENCRYPTION_KEY", base64.b64encode(KEK).decode())
    return url


def _generate(out: Path, batch: str = "CLI-1", count: str = "3") -> int:
    argv = ["vouchers", "generate", "--batch", batch, "--count", count]
    return main([*argv, "--face-value", "5000", "--out", str(out)])


async def _serials_of(url: str, pins: list[str]) -> list[str | None]:
    """The serial stored under each PIN's hash (HMAC-SHA256(SALT, pin), computed here)."""
    found: list[str | None] = []
    async with sql_core(url, KEK) as core, core.uow() as uow:
        for pin in pins:
            digest = hmac.new(SALT, pin.encode(), hashlib.sha256).hexdigest()
            card = await uow.vouchers.get_by_pin_hash(digest)
            found.append(None if card is None else card.serial)
    return found


def test_generate_writes_a_0600_csv_with_one_row_per_card(
    tmp_path: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """3 cards: header + 3 rows CLI-1-000001..3 with 16-digit PINs, mode 0600, PINs not shown.

    Each PIN is stored under the gateway's salt, so the partner API and SMS can redeem it.
    """
    out = tmp_path / "cards.csv"
    assert _generate(out) == 0
    printed = capsys.readouterr().out
    assert "wrote 3 cards of batch 'CLI-1' (50.00 KES each)" in printed  # 5 000 minor units
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.reader(out.read_text(encoding="ascii").splitlines()))
    assert rows[0] == ["serial", "pin"]
    assert [serial for serial, _ in rows[1:]] == ["CLI-1-000001", "CLI-1-000002", "CLI-1-000003"]
    pins = [pin for _, pin in rows[1:]]
    assert all(re.fullmatch(r"[0-9]{16}", pin) for pin in pins)
    assert not any(pin in printed for pin in pins)
    assert asyncio.run(_serials_of(database, pins)) == [serial for serial, _ in rows[1:]]


def test_generate_never_overwrites_and_leaves_no_file_when_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing file: exit 1, untouched, nothing issued; a refused batch removes its file.

    Afterwards ``vouchers list`` shows only the one batch that was issued (CLI-1).
    """
    kept = tmp_path / "kept.csv"
    kept.write_text("keep me", encoding="ascii")
    assert _generate(kept) == 1
    assert "exists" in capsys.readouterr().err
    assert kept.read_text(encoding="ascii") == "keep me"
    assert _generate(tmp_path / "zero.csv", count="0") == 1
    assert "1 to 10000 cards" in capsys.readouterr().err
    assert not (tmp_path / "zero.csv").exists()
    assert _generate(tmp_path / "first.csv") == 0
    assert _generate(tmp_path / "again.csv") == 1
    assert "exists" in capsys.readouterr().err
    assert not (tmp_path / "again.csv").exists()
    assert main(["vouchers", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "batch",
        "cur",
        "face",
        "value",
        "cards",
        "active",
        "redeemed",
        "void",
        "active",
        "value",
    ]
    # CLI-1: 3 cards of 50.00, all active: 3 x 50.00 = 150.00 outstanding.
    assert [line.split() for line in lines[1:]] == [
        ["CLI-1", "KES", "50.00", "3", "3", "0", "0", "150.00"]
    ]
