"""Scopes: route-name patterns that narrow a user within their level, and ``PATCH /users``.

The level check comes first (a scope never raises a level); then a user with scopes needs
one matching the route's name. ``me`` and ``logout`` are always allowed. Users without
scopes keep every route of their level (the permission matrix in test_permissions.py).
"""

from __future__ import annotations

from typing import Any

from admin_api.scopes import in_scope, unmatched
from tests.integration.admin_api.conftest import PASSWORD, Admin
from vending_core.service.admin_records import AdminLevel, AuditFilter
from vending_core.service.demo_data import DEMO_METERS

ADMIN, SMS, POS, OPERATOR = (
    AdminLevel.ADMINISTRATOR,
    AdminLevel.SMS_MANAGER,
    AdminLevel.POS_MANAGER,
    AdminLevel.OPERATOR,
)
PROBLEMS = "https://vendgate.dev/problems/"
NOVEMBER = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"
QUOTE = {"meter_number": DEMO_METERS[11].number, "amount": 11_500}
CUSTOMER = {"account_number": "SCOPE-1", "name": "Scoped Customer"}


async def _scoped(admin: Admin, username: str, level: str, scopes: list[str]) -> dict[str, Any]:
    """Create a user with ``scopes`` through ``POST /users`` as the administrator."""
    body = {"username": username, "password": PASSWORD, "level": level, "scopes": scopes}
    if level == "operator":
        body["area"] = "DEMO-POS"
    status, created = await admin.call("POST", "/users", await admin.token(ADMIN), json=body)
    assert status == 201, created
    return dict(created)


async def test_an_operator_scoped_to_pos_sells_but_cannot_list_customers(admin: Admin) -> None:
    """Scopes ``["pos.*"]``: pos.quote 200, customers.list 403 out-of-scope; me/logout work.

    customers.list is an operator route, so the level allows it: only the scope refuses.
    """
    created = await _scoped(admin, "till-1", "operator", ["pos.*"])
    assert created["scopes"] == ["pos.*"]
    token = await admin.login("till-1")
    status, quote = await admin.call("POST", "/pos/quotes", token, json=QUOTE)
    assert status == 200, quote
    status, problem = await admin.call("GET", "/customers", token)
    assert (status, problem["type"]) == (403, PROBLEMS + "out-of-scope")
    assert "customers.list" in problem["detail"]
    status, me = await admin.call("GET", "/me", token)
    assert (status, me["scopes"]) == (200, ["pos.*"])
    assert (await admin.call("POST", "/logout", token))[0] == 204


async def test_a_scope_never_lets_a_user_past_their_level(admin: Admin) -> None:
    """An sms_manager scoped to reports.* is refused customers.create (its level allows it).

    And an operator scoped to ``reports.*`` still gets the level's 403 ``forbidden`` on a
    report (pos_manager and up): the level is checked first, the scope cannot raise it.
    """
    await _scoped(admin, "analyst", "sms_manager", ["reports.*"])
    analyst = await admin.login("analyst")
    status, problem = await admin.call("POST", "/customers", analyst, json=CUSTOMER)
    assert (status, problem["type"]) == (403, PROBLEMS + "out-of-scope")
    status, report = await admin.call("GET", f"/reports/vending?{NOVEMBER}", analyst)
    assert status == 200, report
    await _scoped(admin, "curious", "operator", ["reports.*"])
    curious = await admin.login("curious")
    status, problem = await admin.call("GET", f"/reports/vending?{NOVEMBER}", curious)
    assert (status, problem["type"]) == (403, PROBLEMS + "forbidden")


async def test_several_patterns_and_exact_names_combine(admin: Admin) -> None:
    """Scopes ``["customers.get", "*.list"]``: any list route and one exact route, no more.

    customers.list and meters.list match ``*.list``; customers.get matches exactly (404:
    no customer 999999, past authorisation); meters.get matches neither (403).
    """
    await _scoped(admin, "viewer", "operator", ["customers.get", "*.list"])
    token = await admin.login("viewer")
    assert (await admin.call("GET", "/customers", token))[0] == 200
    assert (await admin.call("GET", "/meters", token))[0] == 200
    assert (await admin.call("GET", "/customers/999999", token))[0] == 404
    status, problem = await admin.call("GET", f"/meters/{DEMO_METERS[11].number}", token)
    assert (status, problem["type"]) == (403, PROBLEMS + "out-of-scope")


async def test_a_pattern_matching_no_route_is_422_and_creates_nothing(admin: Admin) -> None:
    """``report.*`` (a typo of reports.*) matches no route name: 422 scope-invalid, no user.

    A pattern outside the allowed characters (upper case, spaces) is a 400 invalid-request.
    """
    root = await admin.token(ADMIN)
    body = {"username": "typo", "password": PASSWORD, "level": "operator"}
    status, problem = await admin.call(
        "POST", "/users", root, json={**body, "scopes": ["pos.*", "report.*"]}
    )
    assert (status, problem["type"]) == (422, PROBLEMS + "scope-invalid")
    assert problem["scopes"] == ["report.*"]
    status, problem = await admin.call("POST", "/users", root, json={**body, "scopes": ["POS *"]})
    assert (status, problem["type"]) == (400, PROBLEMS + "invalid-request")
    async with admin.core.uow() as uow:
        assert await uow.admin.get_user_by_name("typo") is None


async def test_patch_changes_scopes_at_once_and_is_audited(admin: Admin) -> None:
    """An administrator narrows an operator to pos.*: the operator's live token obeys at once.

    The audit entry ``user.update`` holds the user before (no scopes) and after, without any
    password hash; fields left out (area, allowed_ips) keep their value.
    """
    operator = await admin.token(OPERATOR)
    assert (await admin.call("GET", "/customers", operator))[0] == 200
    async with admin.core.uow() as uow:
        stored = await uow.admin.get_user_by_name("operator")
    assert stored is not None
    path = f"/users/{stored.id}"
    status, changed = await admin.call(
        "PATCH", path, await admin.token(ADMIN), json={"scopes": ["pos.*"]}
    )
    assert status == 200, changed
    assert (changed["scopes"], changed["area"], changed["allowed_ips"]) == (
        ["pos.*"],
        "DEMO-POS",
        [],
    )
    assert (await admin.call("GET", "/customers", operator))[0] == 403
    async with admin.core.uow() as uow:
        (entry,) = await uow.admin.list_audit(AuditFilter(action="user.update"))
    assert (entry.entity, entry.entity_id) == ("user", str(stored.id))
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["scopes"], entry.after["scopes"]) == ([], ["pos.*"])
    assert "scrypt" not in str(entry)
    status, cleared = await admin.call("PATCH", path, await admin.token(ADMIN), json={"scopes": []})
    assert (status, cleared["scopes"]) == (200, [])
    assert (await admin.call("GET", "/customers", operator))[0] == 200


async def test_patch_follows_the_level_rule(admin: Admin) -> None:
    """A pos_manager changes an operator, not an sms_manager nor itself; operators never.

    The refusals are 403 ``level-refused`` (the use case) and, for an operator, 403
    ``forbidden`` (users.update is a pos_manager route); nothing changes.
    """
    pos = await admin.token(POS)
    await admin.token(SMS)
    await admin.token(OPERATOR)
    async with admin.core.uow() as uow:
        ids = {u.username: u.id for u in await uow.admin.list_users(limit=10, offset=0)}
    body = {"scopes": ["reports.*"]}
    for target in ("sms_manager", "pos_manager"):
        status, problem = await admin.call("PATCH", f"/users/{ids[target]}", pos, json=body)
        assert (status, problem["type"]) == (403, PROBLEMS + "level-refused"), target
    operator = await admin.token(OPERATOR)
    status, problem = await admin.call("PATCH", f"/users/{ids['operator']}", operator, json=body)
    assert (status, problem["type"]) == (403, PROBLEMS + "forbidden")
    status, changed = await admin.call(
        "PATCH", f"/users/{ids['operator']}", pos, json={"scopes": ["pos.*", "shifts.*"]}
    )
    assert (status, changed["scopes"]) == (200, ["pos.*", "shifts.*"])
    async with admin.core.uow() as uow:
        sms = await uow.admin.get_user_by_name("sms_manager")
    assert sms is not None
    assert sms.scopes == ()


async def test_patch_area_and_allowed_ips_and_its_refusals(admin: Admin) -> None:
    """``area`` null removes it, allowed_ips replaces the list; {} 400, no user 404, bad 422.

    An allow-list entry that is not an address or network is a 400 (it would otherwise fail
    every later login of the user).
    """
    root = await admin.token(ADMIN)
    user = await admin.user("moved", OPERATOR, area="DEMO-POS")
    path = f"/users/{user.id}"
    change = {"area": None, "allowed_ips": ["10.9.0.0/16", "192.0.2.7"]}
    status, changed = await admin.call("PATCH", path, root, json=change)
    assert status == 200, changed
    assert (changed["area"], changed["allowed_ips"]) == (None, ["10.9.0.0/16", "192.0.2.7"])
    status, changed = await admin.call("PATCH", path, root, json={"area": "DEMO-POS"})
    assert (changed["area"], changed["allowed_ips"]) == ("DEMO-POS", ["10.9.0.0/16", "192.0.2.7"])
    assert (await admin.call("PATCH", path, root, json={}))[0] == 400
    status, problem = await admin.call("PATCH", path, root, json={"allowed_ips": ["nowhere"]})
    assert (status, problem["type"]) == (400, PROBLEMS + "invalid-request")
    status, problem = await admin.call("PATCH", "/users/999999", root, json={"area": "X"})
    assert (status, problem["type"]) == (404, PROBLEMS + "user-unknown")
    status, problem = await admin.call("PATCH", path, root, json={"scopes": ["nothing.*"]})
    assert (status, problem["type"]) == (422, PROBLEMS + "scope-invalid")


async def test_an_api_key_of_a_scoped_user_carries_the_scopes(admin: Admin) -> None:
    """A key acts as its user: an administrator scoped to api_keys.* and reports.* makes one.

    With the key, a report answers 200 and the audit log (an administrator route) 403.
    """
    await _scoped(admin, "machine", "administrator", ["api_keys.*", "reports.*"])
    token = await admin.login("machine")
    status, body = await admin.call("POST", "/api-keys", token, json={"name": "erp"})
    assert status == 201, body
    key = body["key"]
    assert (await admin.call("GET", f"/reports/vending?{NOVEMBER}", key))[0] == 200
    status, problem = await admin.call("GET", "/audit", key)
    assert (status, problem["type"]) == (403, PROBLEMS + "out-of-scope")


def test_matching_is_fnmatch_over_route_names_case_sensitive() -> None:
    """Pure rules of :func:`in_scope` and :func:`unmatched`, by hand from fnmatch.

    ``reports.*`` matches reports.sales; ``pos.[qv]*`` matches pos.quote and pos.vend but
    not pos.reprint; no scopes allow everything; me/logout and the public login are always
    allowed; ``Reports.*`` matches no route (case matters) and ``*`` matches all.
    """
    assert in_scope(("reports.*",), "reports.sales")
    assert not in_scope(("reports.*",), "customers.list")
    assert in_scope(("pos.[qv]*",), "pos.quote")
    assert in_scope(("pos.[qv]*",), "pos.vend")
    assert not in_scope(("pos.[qv]*",), "pos.reprint")
    assert in_scope((), "audit.list")
    assert all(in_scope(("pos.*",), name) for name in ("me", "logout", "login", "openapi"))
    assert unmatched(["Reports.*", "*", "pos.vend", "nothing"]) == ["Reports.*", "nothing"]
