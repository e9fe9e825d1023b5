"""Backup and restore on SQLite and PostgreSQL: a restore brings back exactly what was saved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from config.settings import DEVELOPMENT_KEY_ENCRYPTION_KEY
from vending_core.adapters.backup import BackupError, backup, restore
from vending_core.adapters.compose import sql_core
from vending_core.service.core import RequestContext
from vending_core.service.demo_data import DEMO_METERS, load_demo_data
from vending_core.service.vending import reprint, vend_credit

METER = DEMO_METERS[3]


async def _sell(url: str, request_id: str) -> str:
    async with sql_core(url, DEVELOPMENT_KEY_ENCRYPTION_KEY) as core:
        ctx = RequestContext(client_id="backup-test", request_id=request_id, channel="cli")
        result = await vend_credit(core, ctx, METER.number, 10_000)
        return result.tokens[0].token


async def _tokens(url: str) -> list[str]:
    async with sql_core(url, DEVELOPMENT_KEY_ENCRYPTION_KEY) as core:
        return [r.tokens[0].token for r in await reprint(core, METER.number, limit=10)]


async def _round_trip(url: str, file: Path) -> None:
    """Sell, back up, sell again, restore: only the first sale remains.

    The restored database sells on: its vending keys came back, encrypted under the same KEK,
    and its tokens are accepted by the reference meter.
    """
    async with sql_core(url, DEVELOPMENT_KEY_ENCRYPTION_KEY, migrate=True) as core:
        await load_demo_data(core)
    first = await _sell(url, "r1")
    await backup(url, file)
    second = await _sell(url, "r2")
    assert await _tokens(url) == [first, second]
    await restore(url, file)
    assert await _tokens(url) == [first]
    third = await _sell(url, "r3")  # the restored database sells on, with its keys
    meter = METER.reference_meter()
    for token in (first, third):
        assert meter.enter(token).result.name == "ACCEPT"


async def test_sqlite_backup_and_restore(tmp_path: Path) -> None:
    """The SQLite online backup, and restoring it over the database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.sqlite3'}"
    await _round_trip(url, tmp_path / "backups" / "vendgate.bak")


async def test_postgres_backup_and_restore(
    postgres_database_factory: Callable[[str], str], tmp_path: Path
) -> None:
    """pg_dump (custom format) and pg_restore --clean in one transaction."""
    url = postgres_database_factory("backup").replace("postgresql://", "postgresql+asyncpg://", 1)
    await _round_trip(url, tmp_path / "vendgate.dump")


async def test_errors_name_the_problem(tmp_path: Path) -> None:
    """A missing database or backup file is a clear BackupError, not a traceback."""
    with pytest.raises(BackupError, match="no SQLite database"):
        await backup(f"sqlite+aiosqlite:///{tmp_path / 'absent.sqlite3'}", tmp_path / "x.bak")
    with pytest.raises(BackupError, match="no backup file"):
        await restore(f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}", tmp_path / "none.bak")
