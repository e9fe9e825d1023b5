import re

from aiohttp import web

from admin_api.app import create_admin_app
from admin_api.openapi import OPERATIONS
from admin_api.permissions import PERMISSIONS
from tests.integration.admin_api.conftest import Admin
from vending_core.service.admin_records import AdminLevel

#: Values for the path parameters of the matrix requests (nothing exists under them).
_PATH_VALUES = {"user_id": "999999", "customer_id": "999999", "number": "00000000000"}
_PATH_VALUES |= {"code": "NO-SUCH", "sgc": "999999", "krn": "1", "debt_id": "999999"}
_PATH_VALUES |= {"shift_id": "999999", "maintenance_id": "999999"}  # shifts, maintenance
_PATH_VALUES["batch"] = "NO-SUCH-BATCH"  # voucher batches


def _path(template: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: _PATH_VALUES[m.group(1)], template)


def test_every_route_is_in_the_permission_table_and_the_openapi_document() -> None:
    """The router, the permission table and the OpenAPI operations name the same routes."""
    app = create_admin_app()
    names = {route.name for route in app.router.routes() if route.name}
    assert names == set(PERMISSIONS) == set(OPERATIONS)
    for route in app.router.routes():
        if route.method == "HEAD":  # added by add_get next to each GET
            continue
        assert route.name is not None
        op = OPERATIONS[route.name]
        assert op.method.upper() == route.method
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter") or info.get("path")
        assert template == op.path


async def _request(admin: Admin, name: str, token: str | None) -> int:
    op = OPERATIONS[name]
    kwargs: dict[str, object] = {"data": b"{}"} if op.method in {"post", "patch"} else {}
    status, _ = await admin.call(op.method.upper(), _path(op.path), token, **kwargs)
    return status


async def test_permission_matrix_from_the_one_table(admin: Admin) -> None:
    """For every route and level: 403 below the route's level, never 401/403 at or above it.

    Allowed requests carry an empty body or unknown ids, so they stop at validation or a
    404 and change nothing. ``logout`` is sent with a throwaway token of each level.
    """
    for level in AdminLevel:
        await admin.token(level)
    for name, required in PERMISSIONS.items():
        if required is None:
            continue
        for level in AdminLevel:
            token = admin.tokens[level]
            if name == "logout":
                token = await admin.login(level.label)
            status = await _request(admin, name, token)
            if level < required:
                assert status == 403, (name, level)
            else:
                assert status not in {401, 403}, (name, level, status)


async def test_without_a_valid_token_every_protected_route_is_401(admin: Admin) -> None:
    """No token, a garbage token: 401 with a Bearer challenge; public routes need none."""
    for name, required in PERMISSIONS.items():
        if required is None:
            assert await _request(admin, name, None) not in {401, 403}, name
            continue
        assert await _request(admin, name, None) == 401, name
        assert await _request(admin, name, "not-a-token") == 401, name
    op = OPERATIONS["me"]
    async with admin.http.get(admin.base + op.path) as response:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.content_type == "application/problem+json"


def test_levels_are_ordered_administrator_over_sms_over_pos_over_operator() -> None:
    """The order the issue gives: administrator > sms_manager > pos_manager > operator."""
    order = sorted(AdminLevel)
    assert [level.label for level in order] == [
        "operator",
        "pos_manager",
        "sms_manager",
        "administrator",
    ]
    assert isinstance(create_admin_app(), web.Application)


async def test_openapi_document_is_public_3_1_and_matches_the_table(admin: Admin) -> None:
    """GET /openapi.json needs no token and describes exactly the routes of the table.

    3.1.0; one operation per route with its level; every body schema is in components;
    bearer security on every protected route.
    """
    status, doc = await admin.call("GET", "/openapi.json")
    assert (status, doc["openapi"]) == (200, "3.1.0")
    operations = {
        op["operationId"]: (method, path, op)
        for path, methods in doc["paths"].items()
        for method, op in methods.items()
    }
    assert set(operations) == set(PERMISSIONS)
    for name, (method, path, op) in operations.items():
        required = PERMISSIONS[name]
        assert (method, path) == (OPERATIONS[name].method, OPERATIONS[name].path)
        assert op["x-min-level"] == (None if required is None else required.label)
        assert ("security" in op) == (required is not None)
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        if body:
            ref = body["schema"]["$ref"].removeprefix("#/components/schemas/")
            assert ref in doc["components"]["schemas"]
    sales = {p["name"]: p for p in operations["reports.sales"][2]["parameters"]}
    assert sales["from"]["required"]
    assert sales["by"]["schema"]["enum"] == ["day", "channel", "vendor"]
