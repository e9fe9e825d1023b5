"""Scheduled backups: the gateway writes ``vendgate backup`` files on its own, every interval.

With ``VENDGATE_BACKUP_DIR`` set, the composition root starts a :class:`BackupScheduler`. It
runs :func:`vending_core.adapters.backup.backup` (SQLite online backup API, or ``pg_dump``)
into ``<dir>/vendgate-<UTC time>.bak`` — written under a hidden temporary name and renamed
when complete, so a file with the final name is always a whole backup — then deletes the
oldest of *its own* files (names of that pattern only) beyond ``VENDGATE_BACKUP_KEEP``.

When the next backup is due is read from the directory, not kept in memory: the newest
file's time plus the interval (at once when there is none). So a restart neither skips a
backup nor adds one, and several gateway processes sharing the directory (``--workers``,
replicas on one host) make one backup per interval between them: each backup is taken under
an exclusive lock on ``<dir>/.vendgate-backup.lock`` and skipped when another process has just
written one.

A failure (unwritable directory, ``pg_dump`` missing, disk full) is logged and counted and
retried one interval later; it never stops the gateway. Metrics: ``vendgate_backups_total``
by outcome and ``vendgate_backup_last_success_timestamp_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from config.backup import BackupSettings
from gateway.metrics import Metrics
from vending_core.adapters.backup import BackupError, backup

__all__ = ["BackupScheduler", "backup_name", "backups_in", "stamp_of"]

_LOG = logging.getLogger(__name__)
_NAME: Final = re.compile(r"^vendgate-(\d{8}T\d{6}\.\d{3})Z\.bak$")
_STAMP: Final = "%Y%m%dT%H%M%S.%f"
_LOCK: Final = ".vendgate-backup.lock"
_TEMP_GLOB: Final = ".vendgate-*.bak.tmp"


def backup_name(at: datetime) -> str:
    """``vendgate-20261125T090000.123Z.bak`` for ``at`` (UTC, milliseconds)."""
    utc = at.astimezone(UTC)
    return f"vendgate-{utc:%Y%m%dT%H%M%S}.{utc.microsecond // 1000:03d}Z.bak"


def stamp_of(name: str) -> datetime | None:
    """The UTC time in a scheduled backup's file name (None: not one of ours)."""
    match = _NAME.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)


def backups_in(directory: Path) -> list[Path]:
    """The scheduled backups in ``directory``, oldest first (other files are ignored)."""
    if not directory.is_dir():
        return []
    return sorted(
        (p for p in directory.iterdir() if p.is_file() and stamp_of(p.name)),
        key=lambda p: p.name,
    )


def _newest(directory: Path) -> datetime | None:
    found = backups_in(directory)
    return stamp_of(found[-1].name) if found else None


def _lock(directory: Path) -> int | None:
    """An exclusive lock on the directory's lock file (its descriptor), None if held."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _prune(directory: Path, keep: int) -> list[Path]:
    """Delete our backups beyond the newest ``keep`` and stale temporaries; the deleted ones."""
    doomed = backups_in(directory)[:-keep]
    doomed += list(directory.glob(_TEMP_GLOB))  # we hold the lock: nobody is writing them
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BackupScheduler:
    """Backs up ``database_url`` into ``settings.directory`` every ``settings.interval``."""

    def __init__(
        self,
        database_url: str,
        settings: BackupSettings,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if settings.directory is None:
            raise ValueError("scheduled backups need a directory")
        self._url = database_url
        self._directory = settings.directory
        self._interval = timedelta(seconds=settings.interval)
        self._keep = settings.keep
        self._metrics = metrics
        self._clock = clock
        self._failed_at: datetime | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background task (inside a running event loop)."""
        if self._task is not None:
            raise RuntimeError("the backup scheduler is already running")
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="backups")

    async def stop(self, grace: float = 60.0) -> None:
        """Let a backup in progress finish (up to ``grace`` seconds, then cancel it) and end."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        try:
            async with asyncio.timeout(grace):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def seconds_until_due(self) -> float:
        """Seconds until the next backup (0: now); at most one interval."""
        newest = await asyncio.to_thread(_newest, self._directory)
        now = self._clock()
        last = max((t for t in (newest, self._failed_at) if t is not None), default=None)
        if last is None or last > now:  # none yet, or a clock that went back: count from now
            return 0.0 if last is None else self._interval.total_seconds()
        return max(0.0, (last + self._interval - now).total_seconds())

    async def run_once(self) -> Path | None:
        """Back up now unless another process just did; the new file (None: skipped/failed).

        Never raises (a failure is logged, counted and retried one interval later).
        """
        started = time.perf_counter()
        try:
            written = await self._locked_backup()
        except Exception as exc:
            self._failed_at = self._clock()
            self._count("failed")
            expected = isinstance(exc, BackupError | OSError)  # else a bug: with its traceback
            _LOG.error(
                "backup: failed, next try in %s: %s", self._interval, exc, exc_info=not expected
            )
            return None
        if written is not None:
            self._failed_at = None
            self._count("ok")
            ms = round((time.perf_counter() - started) * 1000)
            _LOG.info("backup: wrote %s in %d ms", written, ms)
        return written

    async def _locked_backup(self) -> Path | None:
        fd = await asyncio.to_thread(_lock, self._directory)
        if fd is None:
            return None  # another process is writing one right now
        try:
            now = self._clock()
            newest = await asyncio.to_thread(_newest, self._directory)
            if newest is not None and newest <= now < newest + self._interval:
                return None  # another process wrote one since we looked
            target = self._directory / backup_name(now)
            temporary = self._directory / f".{target.name}.tmp"
            try:
                await backup(self._url, temporary)
                await asyncio.to_thread(os.replace, temporary, target)
            finally:
                await asyncio.to_thread(temporary.unlink, missing_ok=True)
            pruned = await asyncio.to_thread(_prune, self._directory, self._keep)
            for path in pruned:
                _LOG.info("backup: deleted old %s", path.name)
            return target
        finally:
            await asyncio.to_thread(_unlock, fd)

    def _count(self, outcome: str) -> None:
        if self._metrics is None:
            return
        self._metrics.backups.labels(outcome).inc()
        if outcome == "ok":
            self._metrics.backup_last_success.set(time.time())

    async def _run(self) -> None:
        pause = min(1.0, self._interval.total_seconds())
        while not self._stop.is_set():
            delay = await self._delay()
            if delay <= 0:
                await self.run_once()
                delay = pause  # never spin: another process may hold the lock for a while
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

    async def _delay(self) -> float:
        try:
            return await self.seconds_until_due()
        except OSError as exc:  # the directory cannot even be listed: try again later
            _LOG.error("backup: cannot read %s: %s", self._directory, exc)
            return self._interval.total_seconds()
