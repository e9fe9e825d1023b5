"""Shifts through ``/admin/v1``: open, close, list, and the report checked against hand sums.

Two operators sell at the demo vending point ``DEMO-POS``; a POS manager reverses a sale. The
core's clock is moved by hand, so each vend's time relative to the shift is known exactly.
"""

from __future__ import annotations

from typing import Any

from tests.integration.admin_api.conftest import Admin
from vending_core.service.admin_records import AdminLevel
from vending_core.service.core import RequestContext
from vending_core.service.demo_data import DEMO_METERS
from vending_core.service.vending import issue_free_basic

#: Demo meter 12 (BUS-FLAT: any amount from 500 c); demo meter 7 is registered for FBE
#: (RES-BLOCK: 50 kWh = 500 tenths a month).
METER, FBE_METER = DEMO_METERS[11], DEMO_METERS[6]
PROBLEM = "https://vendgate.dev/problems/"


class Desk:
    """Two operators of DEMO-POS (op-a, op-b), one of OTHER-POS (op-x), and their tokens."""

    def __init__(self, admin: Admin, tokens: dict[str, str]) -> None:
        self.admin = admin
        self.tokens = tokens

    async def call(self, who: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Call as ``who`` (an operator's username, or a level's label)."""
        return await self.admin.call(method, path, self.tokens[who], **kwargs)

    async def sell(self, who: str, amount: int) -> dict[str, Any]:
        """A POS sale of ``amount`` on METER by ``who`` (201)."""
        body = {"meter_number": METER.number, "amount": amount}
        key = {"Idempotency-Key": f"{who}-{amount}-{len(self.tokens)}-{self.admin.clock.now}"}
        status, receipt = await self.call(who, "POST", "/pos/vends", json=body, headers=key)
        assert status == 201, receipt
        return dict(receipt)


async def _desk(admin: Admin) -> Desk:
    for name, area in (("op-a", "DEMO-POS"), ("op-b", "DEMO-POS"), ("op-x", "OTHER-POS")):
        await admin.user(name, AdminLevel.OPERATOR, area)
    tokens = {name: await admin.login(name) for name in ("op-a", "op-b", "op-x")}
    tokens["pos_manager"] = await admin.token(AdminLevel.POS_MANAGER)
    return Desk(admin, tokens)


async def test_shift_report_matches_hand_computed_sums(admin: Admin) -> None:
    """The shift report per operator and in total, while open and after closing.

    09:00 op-a sells 700 before the shift; 09:01 op-a opens it. In the shift: op-a sells
    1 000 and 2 500, op-b sells 4 000, a POS manager reverses op-a's 2 500, op-b issues one
    Free Basic Electricity token of 500 tenths (seeded through the core: there is no free
    issue route). Hand sums:

    * op-a: 2 sales, gross 1 000 + 2 500 = 3 500; 1 reversal of 2 500; net 3 500 - 2 500 =
      1 000; no free issue.
    * op-b: 1 sale, gross 4 000; net 4 000; 1 free issue, 500 tenths.
    * totals: 3 sales, gross 3 500 + 4 000 = 7 500, 1 reversal of 2 500, net 5 000, 1 free
      issue of 500 tenths.

    09:07 op-b closes the shift; op-a's sale of 900 at 09:08 is after it and left out.
    """
    desk = await _desk(admin)
    await desk.sell("op-a", 700)
    admin.clock.advance(minutes=1)
    status, shift = await desk.call("op-a", "POST", "/shifts")
    assert status == 201, shift
    assert (shift["vendor_code"], shift["opened_by"], shift["status"]) == (
        "DEMO-POS",
        "op-a",
        "open",
    )
    assert shift["opened_at"] == "2026-11-25T09:01:00+00:00"
    receipts = []
    for who, amount in (("op-a", 1_000), ("op-a", 2_500), ("op-b", 4_000)):
        admin.clock.advance(minutes=1)
        receipts.append(await desk.sell(who, amount))
    reversal = {"vend_id": receipts[1]["vend_id"], "reason": "sold to the wrong meter"}
    status, _ = await desk.call("pos_manager", "POST", "/pos/reversals", json=reversal)
    assert status == 200
    admin.clock.advance(minutes=1)
    ctx = RequestContext(
        client_id="test", request_id="fbe-1", channel="pos", vendor_code="DEMO-POS", operator="op-b"
    )
    free = await issue_free_basic(admin.core, ctx, FBE_METER.number)
    assert [t.tenths for t in free.tokens] == [500]

    op_a = {
        "operator": "op-a",
        "sales": 2,
        "gross": 3_500,
        "free_issues": 0,
        "free_tenths": 0,
        "reversals": 1,
        "reversed_gross": 2_500,
        "net": 1_000,
    }
    op_b = {
        "operator": "op-b",
        "sales": 1,
        "gross": 4_000,
        "free_issues": 1,
        "free_tenths": 500,
        "reversals": 0,
        "reversed_gross": 0,
        "net": 4_000,
    }
    totals = {
        "sales": 3,
        "gross": 7_500,
        "free_issues": 1,
        "free_tenths": 500,
        "reversals": 1,
        "reversed_gross": 2_500,
        "net": 5_000,
    }
    path = f"/shifts/{shift['id']}"
    admin.clock.advance(minutes=1)  # 09:06
    status, report = await desk.call("op-a", "GET", path + "/report")
    assert status == 200, report
    assert (report["from"], report["to"]) == (
        "2026-11-25T09:01:00+00:00",
        "2026-11-25T09:06:00+00:00",  # open: up to now
    )
    assert report["operators"] == [op_a, op_b]
    assert report["totals"] == totals

    admin.clock.advance(minutes=1)  # 09:07
    status, closed = await desk.call("op-b", "POST", path + "/close")
    assert status == 200, closed
    assert (closed["status"], closed["closed_by"]) == ("closed", "op-b")
    assert closed["closed_at"] == "2026-11-25T09:07:00+00:00"
    admin.clock.advance(minutes=1)
    await desk.sell("op-a", 900)
    status, final = await desk.call("pos_manager", "GET", path + "/report")
    assert status == 200
    assert final["to"] == "2026-11-25T09:07:00+00:00"
    assert (final["operators"], final["totals"]) == ([op_a, op_b], totals)


async def test_one_open_shift_per_vending_point_and_closing_once(admin: Admin) -> None:
    """One open shift per vending point; a shift closes once; both are audited.

    op-b cannot open a second shift at DEMO-POS (409); a closed shift cannot close again
    (409); after closing, a new shift opens.
    """
    desk = await _desk(admin)
    status, first = await desk.call("op-a", "POST", "/shifts")
    assert status == 201
    status, problem = await desk.call("op-b", "POST", "/shifts")
    assert (status, problem["type"]) == (409, PROBLEM + "shift-already-open")
    close = f"/shifts/{first['id']}/close"
    assert (await desk.call("op-a", "POST", close))[0] == 200
    status, problem = await desk.call("op-a", "POST", close)
    assert (status, problem["type"]) == (409, PROBLEM + "shift-closed")
    status, second = await desk.call("op-b", "POST", "/shifts")
    assert status == 201
    assert second["id"] != first["id"]
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    _, page = await admin.call("GET", "/audit?entity=shift", root)
    assert [(e["action"], int(e["entity_id"])) for e in page["items"]] == [
        ("shift.open", first["id"]),
        ("shift.close", first["id"]),
        ("shift.open", second["id"]),
    ]
    assert page["items"][1]["before"] == {"status": "open"}
    assert page["items"][1]["after"]["status"] == "closed"


async def test_operators_see_only_their_own_vending_point(admin: Admin) -> None:
    """Operators see their own vending point's shifts only; POS managers see any.

    op-x (OTHER-POS) may not report on, close or list DEMO-POS's shift (403); it cannot open
    a shift (OTHER-POS is no vending point: 409). A POS manager reports on any; an unknown
    shift is 404; an operator's list defaults to their own vending point.
    """
    desk = await _desk(admin)
    _, shift = await desk.call("op-a", "POST", "/shifts")
    path = f"/shifts/{shift['id']}"
    assert (await desk.call("op-x", "GET", path + "/report"))[0] == 403
    assert (await desk.call("op-x", "POST", path + "/close"))[0] == 403
    assert (await desk.call("op-x", "GET", "/shifts?vendor_code=DEMO-POS"))[0] == 403
    status, problem = await desk.call("op-x", "POST", "/shifts")
    assert (status, problem["type"]) == (409, PROBLEM + "no-vending-point")
    status, problem = await desk.call("pos_manager", "POST", "/shifts")  # has no area
    assert (status, problem["type"]) == (409, PROBLEM + "no-vending-point")
    assert (await desk.call("pos_manager", "GET", path + "/report"))[0] == 200
    status, problem = await desk.call("pos_manager", "GET", "/shifts/999999/report")
    assert (status, problem["type"]) == (404, PROBLEM + "shift-unknown")
    status, mine = await desk.call("op-a", "GET", "/shifts")
    assert status == 200
    assert [s["id"] for s in mine["items"]] == [shift["id"]]
    status, theirs = await desk.call("op-x", "GET", "/shifts")
    assert (status, theirs["items"]) == (200, [])


async def test_list_filters_by_vending_point_and_status_newest_first(admin: Admin) -> None:
    """The list is newest first; status, vending point and paging filter it.

    Three shifts at DEMO-POS, the first two closed; an unknown status is 400.
    """
    desk = await _desk(admin)
    ids = []
    for n in range(3):
        _, shift = await desk.call("op-a", "POST", "/shifts")
        ids.append(shift["id"])
        if n < 2:
            assert (await desk.call("op-a", "POST", f"/shifts/{shift['id']}/close"))[0] == 200
    manager = "pos_manager"
    _, page = await desk.call(manager, "GET", "/shifts?vendor_code=DEMO-POS")
    assert [s["id"] for s in page["items"]] == ids[::-1]
    _, closed = await desk.call(manager, "GET", "/shifts?status=closed")
    assert [s["id"] for s in closed["items"]] == [ids[1], ids[0]]
    _, open_ = await desk.call("op-b", "GET", "/shifts?status=open")
    assert [s["id"] for s in open_["items"]] == [ids[2]]
    _, second = await desk.call(manager, "GET", "/shifts?limit=1&offset=1")
    assert [s["id"] for s in second["items"]] == [ids[1]]
    assert (await desk.call(manager, "GET", "/shifts?status=lost"))[0] == 400
