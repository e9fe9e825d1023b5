"""Concurrent creates of one key: one is stored (201), every other answer is a 409, none a 500.

Each create checks that its key is free, then inserts. Ten concurrent requests can all pass
the check before any inserts; the database's unique index then refuses all but one, and that
refusal is answered like the check's. On SQLite the writers take turns, so the check itself
refuses the others; on PostgreSQL the race is real.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.admin_api.conftest import Admin
from tests.integration.admin_api.masterdata_support import BACKENDS, admin_on
from tests.integration.admin_api.test_masterdata_tariffs import BLOCK_TARIFF
from tests.integration.admin_api.test_masterdata_vendors import AGENT
from vending_core.service.admin_records import AdminLevel

TIMES = 10


@pytest.fixture(params=BACKENDS)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Admin]:
    """The admin API with the demo data, on SQLite and on PostgreSQL."""
    async with admin_on(request) as admin:
        yield admin


async def _statuses(api: Admin, path: str, body: dict[str, Any]) -> Counter[int]:
    sms = await api.token(AdminLevel.SMS_MANAGER)
    answers = await asyncio.gather(*(api.call("POST", path, sms, json=body) for _ in range(TIMES)))
    return Counter(status for status, _ in answers)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/tariffs", BLOCK_TARIFF),
        ("/vendors", AGENT),
        ("/customers", {"account_number": "ACC-RACE", "name": "Race Customer"}),
    ],
)
async def test_ten_concurrent_creates_store_one(
    api: Admin, path: str, body: dict[str, Any]
) -> None:
    """10 identical creates: exactly one 201 and nine 409."""
    assert await _statuses(api, path, body) == Counter({201: 1, 409: TIMES - 1})


async def test_concurrent_new_versions_of_one_tariff_each_get_a_version_or_a_409(
    api: Admin,
) -> None:
    """10 concurrent new versions of BUS-FLAT: every answer is 201 or 409.

    The versions stored are exactly 2..(1 + the number of 201s), without a gap or a repeat.
    """
    flat = {k: v for k, v in BLOCK_TARIFF.items() if k != "code"}
    statuses = await _statuses(api, "/tariffs/BUS-FLAT/versions", flat)
    assert set(statuses) <= {201, 409}
    assert statuses[201] >= 1
    operator = await api.token(AdminLevel.OPERATOR)
    _, one = await api.call("GET", "/tariffs/BUS-FLAT", operator)
    assert [v["version"] for v in one["versions"]] == list(range(1, 2 + statuses[201]))
