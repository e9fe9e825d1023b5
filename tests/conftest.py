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

Tests are not packages: pytest runs with ``--import-mode=importlib`` and needs no
``__init__.py`` under ``tests/``.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

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
