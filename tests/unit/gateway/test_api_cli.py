import re
from pathlib import Path

import pytest

from gateway.cli import main


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point VENDGATE_DATABASE_URL at a fresh file for each test."""
    path = tmp_path / "vendgate.sqlite3"
    monkeypatch.setenv("VENDGATE_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


def test_create_client_prints_the_key_and_its_secret_once(
    capsys: pytest.CaptureFixture[str], database: Path
) -> None:
    """`vendgate api create-client` prints a vk_ key id and a secret that is not in the file."""
    assert main(["demo-data"]) == 0
    capsys.readouterr()
    assert main(["api", "create-client", "--vendor", "DEMO-POS", "--allow-ip", "10.1.2.3"]) == 0
    out = capsys.readouterr().out
    key_id = re.search(r"key id:\s+(vk_[0-9a-f]{24})", out)
    secret = re.search(r"secret:\s+(\S{40,})", out)
    assert key_id is not None
    assert secret is not None
    assert "allowed: 10.1.2.3/32" in out
    stored = database.read_bytes()
    assert key_id.group(1).encode() in stored
    assert secret.group(1).encode() not in stored


def test_create_client_for_an_unknown_vendor_fails(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown vendor is reported on stderr with exit status 1."""
    assert main(["api", "create-client", "--vendor", "NOBODY"]) == 1
    assert "no vendor 'NOBODY' is registered" in capsys.readouterr().err
