"""Backup and restore of the vending database: ``vendgate backup`` / ``vendgate restore``.

* **SQLite**: the online backup API (``sqlite3.Connection.backup``) copies a consistent
  snapshot page by page while the gateway keeps running; restoring copies the backup file
  back over the database the same way (stop the gateway first: its connections would keep
  reading the old pages).
* **PostgreSQL**: the server's own tools, ``pg_dump --format=custom`` and
  ``pg_restore --clean --if-exists`` (they must be on ``PATH``; the password comes from the
  URL through ``PGPASSWORD``, never on the command line).

Vending keys stay encrypted in the backup, under the same key-encryption key: keep the KEK
apart from the backups.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["BackupError", "backup", "restore"]


class BackupError(RuntimeError):
    """The backup or restore could not be made; the message says why (no secrets in it)."""


async def backup(database_url: str, target: Path) -> Path:
    """Write a backup of the database at ``database_url`` to ``target``; returns ``target``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        source = _sqlite_file(url.database)
        await asyncio.to_thread(_sqlite_copy, source, target)
    elif url.get_backend_name() == "postgresql":
        await _run(
            "pg_dump",
            "--format=custom",
            "--no-owner",
            f"--file={target}",
            *_pg_args(database_url),
            password=url.password,
        )
    else:
        raise BackupError(f"no backup for {url.get_backend_name()} databases")
    return target


async def restore(database_url: str, source: Path) -> None:
    """Replace the database at ``database_url`` with the backup ``source``."""
    if not await asyncio.to_thread(source.is_file):
        raise BackupError(f"no backup file {source}")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        await asyncio.to_thread(_sqlite_copy, source, Path(url.database or ""))
    elif url.get_backend_name() == "postgresql":
        await _run(
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *_pg_args(database_url),
            str(source),
            password=url.password,
        )
    else:
        raise BackupError(f"no restore for {url.get_backend_name()} databases")


def _sqlite_file(database: str | None) -> Path:
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    path = Path(database)
    if not path.is_file():
        raise BackupError(f"no SQLite database at {path}")
    return path


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent online copy of ``source`` into ``target`` (created or overwritten)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    # The copy must not carry a stale WAL of an earlier file at the same path.
    dst_wal = target.with_name(target.name + "-wal")
    if dst_wal.exists() and dst_wal.stat().st_size == 0:
        dst_wal.unlink()


def _pg_args(database_url: str) -> list[str]:
    url = make_url(database_url)
    args = [f"--dbname={url.database}"]
    if url.host:
        args.append(f"--host={url.host}")
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--username={url.username}")
    return args


async def _run(program: str, *args: str, password: str | None = None) -> None:
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    try:
        process = await asyncio.create_subprocess_exec(
            program,
            *args,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise BackupError(f"{program} is not installed (PostgreSQL client tools)") from None
    _, stderr = await process.communicate()
    if process.returncode != 0:
        detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise BackupError(f"{program} failed ({process.returncode}): {detail[0][:300]}")
