"""Numbers and times the database cannot hold are refused with 400, never a 500.

Found by the schemathesis property test (tests/e2e/test_admin_schemathesis.py): an ``offset``
or id beyond 64 bits overflowed the database driver, and a time such as
``0001-01-01T00:00+00:42`` overflowed when converted to UTC for the query.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.integration.admin_api.conftest import Admin
from vending_core.service.admin_records import AdminLevel

BIGINT_MAX = 2**63 - 1  # 9 223 372 036 854 775 807: the largest BIGINT / SQLite INTEGER


@pytest.mark.parametrize(
    "path", ["/users", "/customers", "/meters", "/audit", "/reports/abnormal-customers"]
)
async def test_an_offset_beyond_64_bits_is_400_and_the_largest_one_an_empty_page(
    admin: Admin, path: str
) -> None:
    """``offset`` = 2^63 is refused (400 invalid-request); 2^63 - 1 is a page with no items."""
    token = await admin.token(AdminLevel.ADMINISTRATOR)
    status, body = await admin.call("GET", f"{path}?offset={BIGINT_MAX + 1}", token)
    assert (status, body["type"]) == (400, "https://vendgate.dev/problems/invalid-request")
    status, body = await admin.call("GET", f"{path}?offset={BIGINT_MAX}", token)
    assert (status, body["items"]) == (200, [])


@pytest.mark.parametrize(("path", "field"), [("/meters", "customer_id"), ("/audit", "user_id")])
async def test_an_id_filter_beyond_64_bits_is_400(admin: Admin, path: str, field: str) -> None:
    """No row can have an id of 2^63: the filter is refused (naming it) instead of overflowing."""
    token = await admin.token(AdminLevel.ADMINISTRATOR)
    status, body = await admin.call("GET", f"{path}?{field}={BIGINT_MAX + 1}", token)
    assert (status, body["errors"][0]["field"]) == (400, field)


async def test_a_reversal_of_a_vend_id_beyond_64_bits_is_400(admin: Admin) -> None:
    """``vend_id`` 2^63 in the body: 400 naming the field."""
    token = await admin.token(AdminLevel.ADMINISTRATOR)
    body = {"vend_id": BIGINT_MAX + 1, "reason": "test"}
    status, answer = await admin.call("POST", "/pos/reversals", token, json=body)
    assert (status, answer["errors"][0]["field"]) == (400, "vend_id")


@pytest.mark.parametrize(
    "query",
    [
        # 00:00 at +00:42 on 1 January of year 1 is 23:18 on 31 December of year 0 in UTC.
        "/reports/sales?from={early}&to=2026-01-01T00:00:00Z",
        "/reports/reconciliation?from={early}&to=2026-01-01T00:00:00Z",
        "/audit?from={early}",
        # 23:59 at -05:00 on 31 December 9999 is 04:59 on 1 January 10000 in UTC.
        "/audit?to={late}",
    ],
)
async def test_a_time_outside_years_1_to_9999_in_utc_is_400(admin: Admin, query: str) -> None:
    """Times whose UTC form leaves years 1-9999 are refused (400), not a 500 at the query."""
    token = await admin.token(AdminLevel.ADMINISTRATOR)
    early, late = quote("0001-01-01T00:00:00+00:42"), quote("9999-12-31T23:59:00-05:00")
    status, body = await admin.call("GET", query.format(early=early, late=late), token)
    assert (status, body["type"]) == (400, "https://vendgate.dev/problems/invalid-request")
