from tests.integration.admin_api.conftest import Admin
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS

NEW = {
    "account_number": "ACC-900",
    "name": "Grace Achieng",
    "address": "4 Lake Rd",
    "phones": ["+254711000900"],
    "language": "sw",
}


async def test_create_get_update_with_audit_before_and_after(admin: Admin) -> None:
    """An SMS manager creates and changes a customer; the audit keeps before and after."""
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    status, created = await admin.call("POST", "/customers", sms, json=NEW)
    assert status == 201
    assert {k: created[k] for k in NEW} == NEW
    path = f"/customers/{created['id']}"
    assert (await admin.call("POST", "/customers", sms, json=NEW))[0] == 409
    status, changed = await admin.call("PATCH", path, sms, json={"address": "5 Lake Rd"})
    assert (status, changed["address"], changed["name"]) == (200, "5 Lake Rd", "Grace Achieng")
    operator = await admin.token(AdminLevel.OPERATOR)
    assert (await admin.call("GET", path, operator))[1] == changed
    assert (await admin.call("GET", "/customers/999999", operator))[0] == 404
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    _, page = await admin.call("GET", "/audit?entity=customer", root)
    create, update = page["items"]
    assert (create["action"], create["before"], create["after"]["address"]) == (
        "customer.create",
        None,
        "4 Lake Rd",
    )
    assert update["action"] == "customer.update"
    assert (update["before"]["address"], update["after"]["address"]) == ("4 Lake Rd", "5 Lake Rd")
    assert update["entity_id"] == str(created["id"])


async def test_list_filters_and_pages_over_the_demo_customers(admin: Admin) -> None:
    """The demo data has 12 customers DEMO-001..012; 'amina' finds Amina Njeri (DEMO-001)."""
    operator = await admin.token(AdminLevel.OPERATOR)
    _, everyone = await admin.call("GET", "/customers?limit=200", operator)
    assert [c["account_number"] for c in everyone["items"]] == [
        f"DEMO-{n:03d}" for n in range(1, 13)
    ]
    _, found = await admin.call("GET", "/customers?name=amina", operator)
    assert [c["name"] for c in found["items"]] == ["Amina Njeri"]
    _, page = await admin.call("GET", "/customers?account=DEMO-01&limit=2&offset=1", operator)
    assert [c["account_number"] for c in page["items"]] == ["DEMO-011", "DEMO-012"]
    status, problem = await admin.call("GET", "/customers?limit=0", operator)
    assert (status, problem["type"]) == (400, "https://vendgate.dev/problems/invalid-request")


async def test_an_invalid_body_is_a_problem_listing_the_fields(admin: Admin) -> None:
    """Unknown fields and a bad phone are refused with one error per field."""
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    body = {**NEW, "phones": ["call me"], "colour": "blue"}
    status, problem = await admin.call("POST", "/customers", sms, json=body)
    assert status == 400
    assert {e["field"] for e in problem["errors"]} == {"phones.0", "colour"}


async def test_meters_list_filters_by_supply_group_status_and_customer(admin: Admin) -> None:
    """Demo data: meters 1-6 on SGC 123456, 7-12 on 201457; blocking one filters it out."""
    operator = await admin.token(AdminLevel.OPERATOR)
    _, on_201457 = await admin.call("GET", "/meters?sgc=201457", operator)
    numbers = [m["number"] for m in on_201457["items"]]
    assert numbers == [m.number for m in DEMO_METERS[6:]]
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    target = DEMO_METERS[0].number
    body = {"reason": "tamper"}
    assert (await admin.call("POST", f"/meters/{target}/block", sms, json=body))[0] == 200
    _, blocked = await admin.call("GET", "/meters?status=blocked", operator)
    assert [(m["number"], m["blocked_reason"]) for m in blocked["items"]] == [(target, "tamper")]
    customer_id = on_201457["items"][0]["customer_id"]
    _, owned = await admin.call("GET", f"/meters?customer_id={customer_id}", operator)
    assert [m["number"] for m in owned["items"]] == [DEMO_METERS[6].number]
    _, page = await admin.call("GET", "/meters?limit=2&offset=10", operator)
    assert [m["number"] for m in page["items"]] == [m.number for m in DEMO_METERS[10:]]
