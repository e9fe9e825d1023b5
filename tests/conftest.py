"""Fixtures shared by the whole test suite.

Real services
    ``postgres_url`` and ``redis_url`` (session scope) return the URL of a real PostgreSQL or
    Redis server for contract and integration tests; mark such tests ``@pytest.mark.postgres``
    or ``@pytest.mark.redis``. The URLs come from the environment:

    * ``VENDGATE_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``
    * ``VENDGATE_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/15``

    Each fixture first checks, once per session, that the server's TCP port accepts a
    connection (1 second timeout). If it does not, the tests that need it are skipped, so the
    suite passes on a machine without services. With ``VENDGATE_REQUIRE_SERVICES=1`` (set by
    ``.ci/run``) they fail instead, naming the service, so CI cannot pass by skipping them.

Databases
    ``postgres_database_factory`` creates empty, uniquely named PostgreSQL databases for this
    session (dropped at its end); ``migrated_postgres_url`` is one of them migrated to the
    newest schema, shared by the session. ``postgres_engine`` is an engine on it, emptied
    (``TRUNCATE``) before the test; ``sqlite_engine`` one on a fresh migrated SQLite file
    (``sqlite_url``, a copy of ``sqlite_template``, which is migrated once per session).

Tests are not packages: pytest runs with ``--import-mode=importlib`` and needs no
``__init__.py`` under ``tests/``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vending_core.adapters.db import create_engine
from vending_core.adapters.migrate import upgrade
from vending_core.adapters.tables import metadata

_T = TypeVar("_T")

_REQUIRE_SERVICES = "VENDGATE_REQUIRE_SERVICES"
_CONNECT_TIMEOUT_S = 1.0


def _reachable_url(service: str, env_var: str, default_url: str, default_port: int) -> str:
    """Return the service URL from ``env_var`` once its TCP port accepts a connection.

    Args:
        service: Human name of the service, used in the skip or failure message.
        env_var: Environment variable that may override the URL.
        default_url: URL used when ``env_var`` is not set.
        default_port: Port used when the URL names none.

    Returns:
        The URL, unchanged.
    """
    url = os.environ.get(env_var, default_url)
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        # The URL itself is left out of the message: it may hold a password.
        reason = f"{service} is not reachable at {host}:{port} (from {env_var}): {exc}"
    else:
        return url
    if os.environ.get(_REQUIRE_SERVICES) == "1":
        pytest.fail(
            f"{reason}; {_REQUIRE_SERVICES}=1, so this fails instead of skipping", pytrace=False
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a reachable PostgreSQL server; skips (or fails under CI) when there is none."""
    return _reachable_url(
        "PostgreSQL",
        "VENDGATE_TEST_POSTGRES_URL",
        "postgresql://postgres@127.0.0.1:5432/test",
        5432,
    )


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a reachable Redis server; skips (or fails under CI) when there is none."""
    return _reachable_url("Redis", "VENDGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15", 6379)


def _in_thread(function: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine function to completion on a private event loop in a worker thread.

    Session fixtures are synchronous; a thread keeps their loop apart from pytest-asyncio's.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(_awaited(function))).result()


async def _awaited(function: Callable[[], Awaitable[_T]]) -> _T:
    return await function()


def _server_url(url: str, database: str) -> str:
    """The URL of ``database`` on the server of ``url``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def postgres_database_factory(postgres_url: str) -> Iterator[Callable[[str], str]]:
    """Make empty, uniquely named databases on the test server; all are dropped at the end.

    Call it with a short label; it returns the new database's URL (``postgresql://...``).
    """
    created: list[str] = []
    admin_url = _server_url(postgres_url, "postgres")

    async def execute(sql: str) -> None:
        # CREATE/DROP DATABASE cannot run in a transaction: autocommit.
        engine = create_engine(admin_url, pool_size=1)
        try:
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql(sql)
        finally:
            await engine.dispose()

    def create(label: str) -> str:
        name = f"vendgate_test_{os.getpid()}_{secrets.token_hex(3)}_{label}"
        _in_thread(lambda: execute(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return _server_url(postgres_url, name)

    yield create
    for name in created:
        _in_thread(functools.partial(execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_database_factory: Callable[[str], str]) -> str:
    """URL of a database of this session migrated to the newest schema (shared: clean it)."""
    url = postgres_database_factory("schema")
    _in_thread(lambda: upgrade(url))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once with ``migrate.upgrade``; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    _in_thread(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    # The engine was disposed, so SQLite checkpointed and removed the write-ahead log.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """URL of a fresh, migrated SQLite database for this test (a copy of the template)."""
    path = tmp_path / "vendgate.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's fresh, migrated SQLite database."""
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def postgres_engine(migrated_postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's migrated PostgreSQL database, emptied for this test."""
    engine = create_engine(migrated_postgres_url, pool_size=4)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    yield engine
    await engine.dispose()
