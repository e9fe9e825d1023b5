"""Scheduled backups (``VENDGATE_BACKUP_*``): files appear, old ones are pruned, they restore.

The gateway runs through ``create_app`` on a migrated SQLite file with the demo utility; the
interval is 0.2 s so several backups are made within a second or two.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.backup import BackupSettings
from config.gateway import GatewaySettings
from config.settings import DEVELOPMENT_KEY_ENCRYPTION_KEY, Settings
from gateway import keys
from gateway.app import Overrides, create_app
from gateway.backups import BackupScheduler, backup_name, backups_in, stamp_of
from gateway.sms.memory import MemorySmsSender
from vending_core.adapters.backup import restore
from vending_core.adapters.compose import sql_core
from vending_core.service.core import RequestContext
from vending_core.service.demo_data import DEMO_METERS
from vending_core.service.vending import reprint, vend_credit

METER = DEMO_METERS[3]
INTERVAL = 0.2  #: seconds
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NAME = re.compile(r"^vendgate-\d{8}T\d{6}\.\d{3}Z\.bak$")


def _settings(url: str, directory: Path, keep: int = 3) -> Settings:
    backup = BackupSettings(directory=directory, interval=INTERVAL, keep=keep)
    return Settings(database_url=url, gateway=GatewaySettings(backup=backup))


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[TestServer]:
    app = create_app(settings, overrides=Overrides(demo_data=True, sms_sender=MemorySmsSender()))
    server = TestServer(app)
    async with server:
        yield server


def _count(app: web.Application, outcome: str) -> float:
    registry = app[keys.METRICS].registry
    return registry.get_sample_value("vendgate_backups_total", {"outcome": outcome}) or 0.0


def _newest(directory: Path) -> datetime:
    return max((stamp_of(p.name) or START for p in backups_in(directory)), default=START)


async def _until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    """Poll ``condition`` (the scheduler runs on its own; it has no event to wait on)."""
    async with asyncio.timeout(seconds):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def test_backups_appear_are_pruned_to_keep_and_the_newest_restores(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Every 0.2 s a backup; only the newest KEEP = 3 of ours stay; the newest restores.

    The directory also holds a file of someone else's and one that merely looks like ours:
    pruning leaves both. After 5 successful backups (5 > 3, so 2 were deleted) the files are
    exactly 3, named ``vendgate-<UTC>.bak``, and no temporary file is left. A sale made while
    the gateway runs is in the newest backup: restored into a new database, its token is
    there (reprint), and the last-success gauge is set.
    """
    directory = tmp_path / "backups"
    directory.mkdir()
    (directory / "notes.txt").write_text("not a backup")
    (directory / "vendgate-manual.bak").write_text("a hand-made backup")
    async with _running(_settings(sqlite_url, directory)) as server:
        app = server.app
        ctx = RequestContext(client_id="backup-test", request_id="s1", channel="cli")
        sale = await vend_credit(app[keys.CORE], ctx, METER.number, 10_000)
        sold_at = datetime.now(UTC)
        await _until(lambda: _count(app, "ok") >= 5)
        await _until(lambda: _newest(directory) > sold_at)
        gauge = "vendgate_backup_last_success_timestamp_seconds"
        assert (app[keys.METRICS].registry.get_sample_value(gauge) or 0.0) > 0
    ours = backups_in(directory)
    assert len(ours) == 3
    assert all(NAME.match(p.name) for p in ours)
    others = sorted(p.name for p in directory.iterdir() if p not in ours)
    assert others == [".vendgate-backup.lock", "notes.txt", "vendgate-manual.bak"]
    restored = f"sqlite+aiosqlite:///{tmp_path / 'restored.sqlite3'}"
    await restore(restored, ours[-1])
    async with sql_core(restored, DEVELOPMENT_KEY_ENCRYPTION_KEY) as core:
        tokens = [r.tokens[0].token for r in await reprint(core, METER.number, limit=10)]
    assert tokens == [sale.tokens[0].token]


async def test_a_failing_backup_is_logged_retried_and_the_gateway_keeps_serving(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The backup "directory" is a regular file: each try fails, is logged, counted, retried.

    Two failures (one retry at least one interval later) and no success; meanwhile the
    gateway answers ``/healthz`` with 200.
    """
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the backup directory should be")
    caplog.set_level(logging.ERROR, logger="gateway.backups")
    async with _running(_settings(sqlite_url, blocker / "backups")) as server:
        await _until(lambda: _count(server.app, "failed") >= 2)
        assert _count(server.app, "ok") == 0
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/healthz")) as r:
            assert r.status == 200
    failures = [r for r in caplog.records if r.getMessage().startswith("backup: failed")]
    assert len(failures) >= 2


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _scheduler(url: str, directory: Path, clock: _Clock) -> BackupScheduler:
    settings = BackupSettings(directory=directory, interval=3600.0, keep=2)
    return BackupScheduler(url, settings, clock=clock)


async def test_when_the_next_backup_is_due_comes_from_the_directory(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Due = newest file + interval, so a restart (a new scheduler) neither skips nor repeats.

    Interval 1 h. No file: due now (0 s). A backup at 09:00:00.000 is named
    ``vendgate-20261125T090000.000Z.bak``. A new scheduler at 09:30 waits 30 min = 1800 s;
    its ``run_once`` at 09:30 writes nothing (another process made one within the hour).
    At 10:00 it is due (0 s) and writes ``...T100000.000Z.bak``.
    """
    directory = tmp_path / "b"
    clock = _Clock()
    first = _scheduler(sqlite_url, directory, clock)
    assert await first.seconds_until_due() == 0.0
    written = await first.run_once()
    assert written == directory / "vendgate-20261125T090000.000Z.bak"
    clock.now = START + timedelta(minutes=30)
    restarted = _scheduler(sqlite_url, directory, clock)
    assert await restarted.seconds_until_due() == 1800.0
    assert await restarted.run_once() is None
    clock.now = START + timedelta(hours=1)
    assert await restarted.seconds_until_due() == 0.0
    assert await restarted.run_once() == directory / "vendgate-20261125T100000.000Z.bak"
    assert [p.name for p in backups_in(directory)] == [
        "vendgate-20261125T090000.000Z.bak",
        "vendgate-20261125T100000.000Z.bak",
    ]


async def test_after_a_failure_the_next_try_is_one_interval_later(tmp_path: Path) -> None:
    """A database that cannot be backed up: the try fails at 09:00, the next is due at 10:00.

    At 09:20 that is 40 min = 2400 s away.
    """
    clock = _Clock()
    missing = f"sqlite+aiosqlite:///{tmp_path / 'absent.sqlite3'}"
    scheduler = _scheduler(missing, tmp_path / "b", clock)
    assert await scheduler.run_once() is None
    clock.now = START + timedelta(minutes=20)
    assert await scheduler.seconds_until_due() == 2400.0
    assert backups_in(tmp_path / "b") == []


def test_names_carry_the_utc_time_to_the_millisecond() -> None:
    """12:00:00.123456 at +03:00 is 09:00:00.123456 UTC -> ``...T090000.123Z``; and back."""
    at = datetime(2026, 11, 25, 12, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=3)))
    assert backup_name(at) == "vendgate-20261125T090000.123Z.bak"
    assert stamp_of("vendgate-20261125T090000.123Z.bak") == datetime(
        2026, 11, 25, 9, 0, 0, 123_000, tzinfo=UTC
    )
    assert stamp_of("vendgate-manual.bak") is None
