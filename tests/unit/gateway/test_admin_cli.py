import asyncio
import io
from pathlib import Path

import pytest

from gateway.cli import main
from vending_core.adapters.compose import sql_core
from vending_core.service.admin_accounts import verify_password
from vending_core.service.admin_records import AdminLevel

KEK = bytes(32)


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point VENDGATE_DATABASE_URL at a fresh file for each test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("VENDGATE_DATABASE_URL", url)
    return url


async def _stored(url: str, username: str) -> tuple[AdminLevel, str] | None:
    async with sql_core(url, KEK) as core, core.uow() as uow:
        user = await uow.admin.get_user_by_name(username)
    return None if user is None else (user.level, user.password_hash)


def test_create_user_makes_the_first_administrator_with_the_password_from_stdin(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The password is read from stdin (not a terminal) and stored only as its scrypt hash."""
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    argv = ["admin", "create-user", "--username", "root", "--level", "administrator"]
    assert main(argv) == 0
    assert "created administrator 'root'" in capsys.readouterr().out
    stored = asyncio.run(_stored(database, "root"))
    assert stored is not None
    level, password_hash = stored
    assert level is AdminLevel.ADMINISTRATOR
    assert "a long enough secret" not in password_hash
    assert verify_password("a long enough secret", password_hash)


def test_create_user_refuses_a_short_password_and_a_taken_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fewer than 12 characters: exit 2; the same username twice: exit 1 the second time."""
    argv = ["admin", "create-user", "--username", "root", "--level", "administrator"]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(argv) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(argv) == 1
    assert "taken" in capsys.readouterr().err
