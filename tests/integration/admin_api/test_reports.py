"""The ``/reports/*`` routes over HTTP: real POS sales, JSON and CSV, refusals.

Seeded through the API itself on demo meter 12 (tariff BUS-FLAT: 200 c/kWh excl. VAT, VAT
15 %, no charges, vendor DEMO-POS without commission): 11 500 c on 25 Nov 09:00 UTC
(VAT 11 500 x 15/115 = 1 500, net 10 000, 10 000 / 200 = 50.0 kWh = 500 tenths) and
2 300 c on 26 Nov 10:00 (VAT 300, net 2 000, 100 tenths), reversed the same minute by the
POS manager, then one reprint by the operator.
"""

from __future__ import annotations

from typing import Any

from tests.integration.admin_api.conftest import Admin
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS

METER = DEMO_METERS[11]
NOVEMBER = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"
PROBLEMS = "https://vendgate.dev/problems/"


async def _sell(admin: Admin, amount: int, key: str) -> dict[str, Any]:
    operator = await admin.token(AdminLevel.OPERATOR)
    body = {"meter_number": METER.number, "amount": amount}
    status, receipt = await admin.call(
        "POST", "/pos/vends", operator, json=body, headers={"Idempotency-Key": key}
    )
    assert status == 201, receipt
    stored: dict[str, Any] = receipt
    return stored


async def _seed(admin: Admin) -> str:
    """The sales of the module docstring; the POS manager's token."""
    await _sell(admin, 11_500, "sale-1")
    admin.clock.advance(days=1, hours=1)
    admin.tokens.clear()
    second = await _sell(admin, 2_300, "sale-2")
    manager = await admin.token(AdminLevel.POS_MANAGER)
    reversal = {"vend_id": second["vend_id"], "reason": "paid twice"}
    assert (await admin.call("POST", "/pos/reversals", manager, json=reversal))[0] == 200
    operator = await admin.token(AdminLevel.OPERATOR)
    body = {"meter_number": METER.number}
    assert (await admin.call("POST", "/pos/reprints", operator, json=body))[0] == 200
    return manager


async def test_vending_report_json_has_vat_units_and_totals(admin: Admin) -> None:
    """Only the completed sale counts: 1 sale, 11 500 gross, 1 500 VAT, 10 000 net, 500 t."""
    manager = await _seed(admin)
    status, body = await admin.call("GET", f"/reports/vending?{NOVEMBER}&by=day", manager)
    assert status == 200, body
    line = {
        "key": "2026-11-25",
        "sales": 1,
        "gross": 11_500,
        "vat": 1_500,
        "net": 10_000,
        "commission": 0,
        "units": 500,
    }
    assert body["items"] == [line]
    assert body["totals"] == {k: v for k, v in line.items() if k != "key"}
    assert (body["from"], body["by"]) == ("2026-11-01T00:00:00+00:00", "day")
    _, by_vendor = await admin.call("GET", f"/reports/vending?{NOVEMBER}&by=vendor", manager)
    assert [(i["key"], i["gross"]) for i in by_vendor["items"]] == [("DEMO-POS", 11_500)]
    _, by_sgc = await admin.call("GET", f"/reports/vending?{NOVEMBER}&by=sgc", manager)
    assert [(i["key"], i["sales"]) for i in by_sgc["items"]] == [(METER.sgc, 1)]


async def test_reversal_and_reprint_reports_name_who_did_it(admin: Admin) -> None:
    """The reversal: 2 300 gross, 300 VAT, on 26 Nov by pos_manager; one reprint by operator."""
    manager = await _seed(admin)
    _, reversals = await admin.call("GET", f"/reports/reversals?{NOVEMBER}&by=operator", manager)
    assert reversals["items"] == [
        {"key": "pos_manager", "reversals": 1, "gross": 2_300, "vat": 300, "commission": 0}
    ]
    _, reprints = await admin.call("GET", f"/reports/reprints?{NOVEMBER}&by=operator", manager)
    assert reprints["items"] == [{"key": "operator", "reprints": 1}]
    _, debt = await admin.call("GET", f"/reports/debt-recovery?{NOVEMBER}", manager)
    assert (debt["items"], debt["totals"]["amount"]) == ([], 0)


async def test_csv_download_has_the_header_row_and_a_file_name(admin: Admin) -> None:
    """CSV: the item fields as header, one line per group, as an attachment."""
    manager = await _seed(admin)
    path = f"/reports/vending?{NOVEMBER}&by=month&format=csv"
    async with admin.http.get(
        admin.base + path, headers={"Authorization": f"Bearer {manager}"}
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        disposition = response.headers["Content-Disposition"]
        text = await response.text()
    assert disposition == 'attachment; filename="vending-month-2026-11-01-2026-12-01.csv"'
    assert text.splitlines() == [
        "key,sales,gross,vat,net,commission,units",
        "2026-11,1,11500,1500,10000,0,500",
    ]


async def test_abnormal_customers_lists_meters_without_a_purchase(admin: Admin) -> None:
    """Now 26 Nov 10:00; 1 day: every demo meter but meter 12 (bought now) never bought.

    12 demo meters - 1 = 11, all with ``idle_days`` null; CSV has one line per meter.
    """
    manager = await _seed(admin)
    status, body = await admin.call("GET", "/reports/abnormal-customers?days=1", manager)
    assert status == 200, body
    numbers = [item["meter_number"] for item in body["items"]]
    assert len(numbers) == len(DEMO_METERS) - 1 == 11
    assert METER.number not in numbers
    assert {item["idle_days"] for item in body["items"]} == {None}
    assert body["items"][0]["customer_name"] == DEMO_METERS[0].customer
    _, text = await admin.call(
        "GET", "/reports/abnormal-customers?days=1&limit=2&format=csv", manager
    )
    assert text.splitlines()[0].startswith("meter_number,sgc,ti,status,")
    assert len(text.splitlines()) == 1 + 2


async def test_invalid_queries_are_400_problems_and_operators_are_refused(admin: Admin) -> None:
    """A grouping the report lacks, an empty or naive period, an unknown field: 400; 403 below.

    ``sgc`` is not a reversal grouping; ``to`` equal to ``from`` is an empty period.
    """
    manager = await admin.token(AdminLevel.POS_MANAGER)
    for query in (
        f"/reports/reversals?{NOVEMBER}&by=sgc",
        "/reports/vending?from=2026-11-02T00:00:00Z&to=2026-11-02T00:00:00Z",
        "/reports/vending?from=2026-11-01T00:00:00&to=2026-12-01T00:00:00Z",
        f"/reports/maintenance?{NOVEMBER}&colour=red",
        f"/reports/reconciliation?{NOVEMBER}&format=xls",
        "/reports/abnormal-customers?days=0",
        "/reports/free-issue",
    ):
        status, problem = await admin.call("GET", query, manager)
        assert (status, problem["type"]) == (400, PROBLEMS + "invalid-request"), query
    operator = await admin.token(AdminLevel.OPERATOR)
    status, problem = await admin.call("GET", f"/reports/vending?{NOVEMBER}", operator)
    assert (status, problem["type"]) == (403, PROBLEMS + "forbidden")


async def test_abnormal_customers_below_adds_meters_far_below_their_history(admin: Admin) -> None:
    """``below`` is 1-99 (0, 100, text: 400); the history columns are in JSON and in CSV.

    The clock moves on to 5 Jan 2027 10:00 (40 days after 26 Nov 10:00): the history is
    ``[2026-01-01, 2027-01-01)``, holding meter 12's completed sale of 500 tenths (the
    reversed 100 tenths are left out): average 500 // 12 = 41; the last 30 days (from 6 Dec)
    hold nothing, 0 < 50 % of 41. With ``days=60`` (before 6 Nov) meter 12 (last purchase
    26 Nov 10:00: the reversal does not move it) is not idle: without ``below`` the 11
    never-bought demo meters, with ``below=50`` meter 12 too, last (latest purchase),
    ``reason`` below-average, ``idle_days`` 40.
    """
    await _seed(admin)
    admin.clock.advance(days=40)
    admin.tokens.clear()
    manager = await admin.token(AdminLevel.POS_MANAGER)
    for below in ("0", "100", "half"):
        query = f"/reports/abnormal-customers?days=60&below={below}"
        status, problem = await admin.call("GET", query, manager)
        assert (status, problem["type"]) == (400, PROBLEMS + "invalid-request"), below
    _, idle = await admin.call("GET", "/reports/abnormal-customers?days=60", manager)
    assert len(idle["items"]) == 11
    assert idle["below"] is None
    assert {item["reason"] for item in idle["items"]} == {"idle"}
    query = "/reports/abnormal-customers?days=60&below=50"
    status, body = await admin.call("GET", query, manager)
    assert status == 200, body
    assert body["below"] == 50
    assert len(body["items"]) == 12
    last = body["items"][-1]
    assert last["meter_number"] == METER.number
    history = ("avg_month_tenths", "last_month_tenths", "fbe_only", "blocked", "reason")
    assert [last[name] for name in history] == [41, 0, False, False, "below-average"]
    assert (last["last_purchase_at"], last["idle_days"]) == ("2026-11-26T10:00:00+00:00", 40)
    _, text = await admin.call("GET", query + "&format=csv", manager)
    lines = text.splitlines()
    added = "avg_month_tenths,last_month_tenths,fbe_only,blocked,reason"
    assert lines[0].endswith(",last_purchase_at,idle_days," + added)
    assert lines[-1].startswith(METER.number + ",")
    assert lines[-1].endswith(",40,41,0,False,False,below-average")
