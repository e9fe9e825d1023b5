"""Async engines for the embedded default (SQLite via aiosqlite) and PostgreSQL (asyncpg).

:func:`create_engine` is the one place engines are configured; the composition root calls it
with ``settings.database_url`` and disposes the engine on shutdown.

SQLite
    WAL journal (readers do not block the writer), ``busy_timeout`` of 30 s, foreign keys on,
    and every transaction opens with ``BEGIN IMMEDIATE``: a unit of work takes the write lock
    up front, so concurrent writers queue on the busy timeout instead of failing halfway with
    "database is locked" when a read transaction tries to upgrade. This follows SQLAlchemy's
    documented recipe for sqlite3/aiosqlite: the engine's ``begin`` event emits our BEGIN
    before SQLAlchemy's first statement, so the driver never begins one of its own there. The
    driver's isolation level is ``IMMEDIATE`` (not the recipe's ``None``): a unit of work
    (:mod:`vending_core.adapters.sql`) that drives the connection directly and starts with a
    write lets sqlite3 send ``BEGIN IMMEDIATE`` with that write, one thread hop instead of two.
    A connection with the execution option ``{SQLITE_BEGIN: "DEFERRED"}`` opens a plain read
    transaction instead (the key store reads keys that way while a unit of work holds the lock).
    In-memory databases are refused: every pooled connection would see its own database.

    ``synchronous`` (``sqlite_synchronous``) is ``FULL`` by default: every commit is fsynced
    to the WAL before it returns, so a committed vend survives a power cut or an OS crash.
    ``NORMAL`` fsyncs only at checkpoints: a commit is still atomic and survives the process
    crashing (the WAL is in the OS page cache), but the last commits before a power loss or
    OS crash can be lost, i.e. a customer could hold a token whose vend the database no
    longer has. On the 2-core machine of ``bench/core_bench.py`` the WAL fsync is 0.5-1 ms,
    so one vend at a time ``NORMAL`` sells about 1.3-1.5 times what ``FULL`` sells; with
    concurrent vends the group commit (:mod:`vending_core.adapters.groupcommit`) shares one
    fsync among them and the difference mostly disappears. ``NORMAL`` is for deployments
    whose storage makes that loss acceptable (battery-backed write cache, a replica that
    takes every commit), never the default.

    A connection goes back to the pool without the usual ``ROLLBACK`` round trip unless
    SQLite reports a transaction still open on it (the units of work end theirs themselves).

PostgreSQL
    asyncpg at READ COMMITTED, a pool of ``pool_size`` connections (plus ``pool_overflow``,
    by default as many, opened under load and closed when returned), the
    session time zone UTC. ``postgresql://`` URLs are given the asyncpg driver.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final, Literal

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

__all__ = [
    "SQLITE_BEGIN",
    "SQLITE_BUSY_TIMEOUT_MS",
    "SqliteSynchronous",
    "create_engine",
    "normalise_url",
]

#: SQLite's ``PRAGMA synchronous`` in WAL mode (see the module docstring for the trade-off).
SqliteSynchronous = Literal["FULL", "NORMAL"]

#: Execution option naming how a SQLite transaction begins: "IMMEDIATE" (default) or "DEFERRED".
SQLITE_BEGIN: Final = "vendgate_sqlite_begin"
SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
_BEGIN_MODES: Final = frozenset({"IMMEDIATE", "DEFERRED"})
_POOL_RECYCLE_S: Final = 1800
_PG_COMMAND_TIMEOUT_S: Final = 60


def normalise_url(url: str) -> URL:
    """Parse ``url`` and pick the async driver (aiosqlite, asyncpg) when none is named.

    Raises:
        ValueError: Not SQLite or PostgreSQL, another driver, or an in-memory SQLite database.
    """
    parsed = make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    wanted = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}.get(backend)
    if wanted is None:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=f"{backend}+{wanted}")
    elif driver != wanted:
        raise ValueError(f"database driver {driver!r} is not async: use {backend}+{wanted}")
    if backend == "sqlite" and (
        parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
    ):
        raise ValueError("in-memory SQLite is not supported: give a file path")
    return parsed


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    pool_overflow: int | None = None,
    echo: bool = False,
    sqlite_synchronous: SqliteSynchronous = "FULL",
) -> AsyncEngine:
    """Create the async engine for ``url`` (see the module docstring for the settings).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite+aiosqlite:///vendgate.sqlite3`` or
            ``postgresql://user@host/db``.
        pool_size: Connections kept open (PostgreSQL; SQLite keeps SQLAlchemy's default).
        pool_overflow: Connections opened beyond those under load (PostgreSQL; default:
            ``pool_size``).
        echo: Log every SQL statement (development only: statements carry no key material,
            but parameters may hold tokens).
        sqlite_synchronous: SQLite's ``PRAGMA synchronous``: ``FULL`` (durable through power
            loss) or ``NORMAL`` (durable through process crashes only); ignored for PostgreSQL.

    Raises:
        ValueError: An unsupported URL (see :func:`normalise_url`), or another
            ``sqlite_synchronous``.
    """
    parsed = normalise_url(url)
    if sqlite_synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"sqlite_synchronous must be FULL or NORMAL, got {sqlite_synchronous!r}")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo, synchronous=sqlite_synchronous)
    return create_async_engine(
        parsed,
        echo=echo,
        isolation_level="READ COMMITTED",
        pool_size=pool_size,
        max_overflow=pool_size if pool_overflow is None else pool_overflow,
        pool_recycle=_POOL_RECYCLE_S,
        connect_args={
            "command_timeout": _PG_COMMAND_TIMEOUT_S,
            "server_settings": {"timezone": "UTC", "application_name": "vendgate"},
        },
    )


def _sqlite_engine(url: URL, *, echo: bool, synchronous: SqliteSynchronous) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, pool_reset_on_return=None)
    event.listen(engine.sync_engine, "connect", partial(_sqlite_on_connect, synchronous))
    event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    event.listen(engine.sync_engine.pool, "reset", _sqlite_on_reset)
    return engine


def _sqlite_on_connect(synchronous: str, dbapi_connection: Any, _record: Any) -> None:
    """Make the driver's own BEGIN an IMMEDIATE one and set the connection's pragmas."""
    dbapi_connection.isolation_level = "IMMEDIATE"
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_on_reset(dbapi_connection: Any, record: Any, state: PoolResetState) -> None:
    """On return to the pool, roll back only a transaction SQLite reports still open.

    Replaces SQLAlchemy's unconditional ``ROLLBACK`` (one thread hop per checkout) for
    connections whose transaction was ended outside SQLAlchemy (the units of work).
    """
    if not state.asyncio_safe or state.transaction_was_reset:
        return
    if record is None or record.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _sqlite_on_begin(connection: Connection) -> None:
    """Open the transaction with ``BEGIN IMMEDIATE`` (or the mode set in SQLITE_BEGIN)."""
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
    if mode not in _BEGIN_MODES:
        raise ValueError(f"{SQLITE_BEGIN} must be one of {sorted(_BEGIN_MODES)}, got {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")
