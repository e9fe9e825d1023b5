"""Property test of ``/admin/v1`` with schemathesis, driven by the live OpenAPI document.

The whole gateway (``create_app``) runs on a real 127.0.0.1 port in a thread with its own
event loop, on a migrated SQLite file with the demo utility. Schemathesis loads the document
from ``GET /admin/v1/openapi.json`` and, for every operation in it, sends
25 generated requests that fit the document (positive) and 10 that do not
(negative), as an administrator selling from ``DEMO-POS``. Each answer must pass:

* ``not_a_server_error`` — no 5xx, whatever the input;
* ``status_code_conformance`` — the status is one the document declares;
* ``content_type_conformance`` and ``response_schema_conformance`` — the body has a
  declared media type and fits the declared schema (problem JSON for 4xx).

Exclusions and substitutions (documented in docs/admin.md):

* ``POST /logout`` is sent with a fresh token of the administrator per example, so it never
  ends the token the other operations use.
* ``POST /users/{user_id}/disable`` is sent as a pos_manager, who may disable only
  operators: sent as the administrator it could disable the administrator itself (user 1)
  and every later request would get 401.

The examples are drawn at random (no fixed seed); Hypothesis prints a failing example with the
seed to reproduce it. Shrinking is off to keep a failing run short.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from admin_api.openapi import OPERATIONS
from admin_api.permissions import PERMISSIONS
from config.settings import Settings
from gateway import keys
from gateway.app import Overrides, create_app
from gateway.sms.memory import MemorySmsSender
from vending_core.service.admin_accounts import create_user, login
from vending_core.service.admin_records import AdminLevel, AdminUser
from vending_core.service.core import Core

pytestmark = pytest.mark.slow

_T = TypeVar("_T")
#: Examples per operation: fitting the document, and not (mostly refused by validation).
MAX_EXAMPLES = {"positive": 25, "negative": 10}
PASSWORD = "correct horse battery staple"
ADMIN, DISABLER = "fuzz-admin", "fuzz-disabler"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Operations sent with another user's token than the administrator's (see the docstring).
AS_DISABLER = {"users.disable", "users.update"}
FRESH_TOKEN = {"logout"}


class _ServerThread(threading.Thread):
    """An aiohttp application on 127.0.0.1 (a free port) in a thread with its own loop."""

    def __init__(self, app: Any) -> None:
        super().__init__(name="admin-schemathesis-server", daemon=True)
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.address: concurrent.futures.Future[str] = concurrent.futures.Future()

    def run(self) -> None:
        """Start the app, serve until :meth:`stop`, then run its cleanup."""
        from aiohttp import web  # noqa: PLC0415 - keeps the module's top imports sync-only

        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.app, access_log=None)
        try:
            self.loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            host, port = runner.addresses[0][:2]
            self.address.set_result(f"http://{host}:{port}")
            self.loop.run_forever()
        except BaseException as exc:
            if not self.address.done():
                self.address.set_exception(exc)
            raise
        finally:
            self.loop.run_until_complete(runner.cleanup())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def stop(self) -> None:
        """Stop serving and wait for the cleanup."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.join(timeout=60)


@dataclass
class LiveAdmin:
    """The running gateway's admin API and tokens to call it."""

    server: _ServerThread
    base_url: str  #: ``http://127.0.0.1:<port>/admin/v1``
    core: Core
    tokens: dict[str, str]

    def fresh_token(self, username: str = ADMIN) -> str:
        """A new bearer token of ``username`` (a login through the core)."""
        token, _, _ = self.server.call(login(self.core, username, PASSWORD, "127.0.0.1"))
        return token


async def _add_user(core: Core, username: str, level: AdminLevel, area: str | None) -> None:
    draft = AdminUser(
        username=username,
        level=level,
        password_hash="",
        created_at=datetime.now(UTC),
        area=area,
    )
    await create_user(core, None, "cli", draft, PASSWORD)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmin]:
    """The gateway with the demo utility, an administrator at DEMO-POS and a pos_manager."""
    path: Path = tmp_path_factory.mktemp("schemathesis") / "vendgate.sqlite3"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}")
    app = create_app(settings, overrides=Overrides(demo_data=True, sms_sender=MemorySmsSender()))
    server = _ServerThread(app)
    server.start()
    try:
        origin = server.address.result(timeout=60)
        core = app[keys.CORE]
        server.call(_add_user(core, ADMIN, AdminLevel.ADMINISTRATOR, "DEMO-POS"))
        server.call(_add_user(core, DISABLER, AdminLevel.POS_MANAGER, None))
        admin = LiveAdmin(server, f"{origin}/admin/v1", core, {})
        admin.tokens = {name: admin.fresh_token(name) for name in (ADMIN, DISABLER)}
        yield admin
    finally:
        server.stop()


@pytest.fixture(scope="module")
def schema(live: LiveAdmin) -> OpenApiSchema:
    """The OpenAPI document as the running gateway serves it.

    Fetched here and loaded with ``from_dict``: ``from_url`` would leave out the operation
    that serves the document itself.
    """
    served = requests.get(f"{live.base_url}/openapi.json", timeout=10)
    assert served.status_code == 200
    return schemathesis.openapi.from_dict(served.json())


def test_the_live_document_describes_every_operation(schema: OpenApiSchema) -> None:
    """The served document has one operation per entry of ``OPERATIONS`` (so all are fuzzed).

    Each is found by schemathesis under its ``operationId`` (the route name).
    """
    paths = schema.raw_schema["paths"]
    found = {op["operationId"] for methods in paths.values() for op in methods.values()}
    assert found == set(OPERATIONS)
    for name in OPERATIONS:
        assert schema.find_operation_by_id(name).definition.raw["operationId"] == name


def _headers(live: LiveAdmin, name: str) -> dict[str, str]:
    if name in FRESH_TOKEN:
        token = live.fresh_token()
    elif name in AS_DISABLER:
        token = live.tokens[DISABLER]
    else:
        token = live.tokens[ADMIN]
    return {"Authorization": f"Bearer {token}"}


def _cases() -> list[tuple[str, str]]:
    """(route name, generation mode) for every operation of ``OPERATIONS``.

    Negative mode only where there is something to break (a path, query, body or token):
    for ``GET /openapi.json`` no request is invalid and Hypothesis would find no example.
    """
    cases = []
    for name, op in sorted(OPERATIONS.items()):
        cases.append((name, "positive"))
        if "{" in op.path or op.query or op.body or PERMISSIONS[name] is not None:
            cases.append((name, "negative"))
    return cases


@pytest.mark.parametrize(("name", "mode"), _cases())
def test_no_server_error_and_every_answer_fits_the_document(
    live: LiveAdmin, schema: OpenApiSchema, name: str, mode: str
) -> None:
    """Generated requests to one operation: no 5xx; status, media type and body as documented.

    ``MAX_EXAMPLES`` examples per operation and mode; the administrator's token stays valid
    throughout (checked at the end with ``GET /me``).
    """
    operation = schema.find_operation_by_id(name)
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))
    with requests.Session() as session:

        @settings(
            max_examples=MAX_EXAMPLES[mode],
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: schemathesis.Case[APIOperation[Any, Any, Any, Any]]) -> None:
            case.call_and_validate(
                base_url=live.base_url,
                session=session,
                headers=_headers(live, name),
                checks=CHECKS,
            )

        run()
        me = session.get(f"{live.base_url}/me", headers=_headers(live, "me"), timeout=10)
    assert me.status_code == 200
