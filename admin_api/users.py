"""Handlers of sessions and users: login, logout, me, users list/create/update/disable, keys.

Creating, changing (area, IP allow-list, scopes) or disabling a user follows the level rule
of :func:`vending_core.service.admin_accounts.may_manage`; every change is in the audit log
(written by the use case, in the same transaction). Scopes must each match a route name
(:func:`admin_api.scopes.unmatched`; 422 ``scope-invalid`` otherwise). Passwords, tokens and
keys are returned only once (the token at login, the key at creation) and never stored in
clear.
"""

from __future__ import annotations

from aiohttp import web

from admin_api.auth import remote_of
from admin_api.context import ADMIN_CORE, TOKEN, USER
from admin_api.models import ApiKeyRequest, LoginRequest, Page, UserCreate, UserUpdate
from admin_api.problems import problem
from admin_api.scopes import unmatched
from vending_core.service.admin_accounts import (
    change_user_access,
    create_api_key,
    create_user,
    disable_user,
    login,
    logout,
    user_view,
)
from vending_core.service.admin_records import AdminLevel, AdminUser

__all__ = ["add_user_routes"]


async def _login(request: web.Request) -> web.StreamResponse:
    """``POST /login``: a bearer token for 8 hours (401, or 423 when locked)."""
    body = LoginRequest.model_validate_json(await request.read())
    core = request.config_dict[ADMIN_CORE]
    token, user, expires = await login(core, body.username, body.password, remote_of(request))
    return web.json_response(
        {
            "token": token,
            "token_type": "Bearer",
            "expires_at": expires.isoformat(),
            "user": user_view(user),
        }
    )


async def _logout(request: web.Request) -> web.StreamResponse:
    """``POST /logout``: the bearer token stops working."""
    core = request.config_dict[ADMIN_CORE]
    await logout(core, request[USER], request[TOKEN], remote_of(request))
    return web.Response(status=204)


async def _me(request: web.Request) -> web.StreamResponse:
    """``GET /me``: the calling user."""
    return web.json_response(user_view(request[USER]))


async def _list_users(request: web.Request) -> web.StreamResponse:
    """``GET /users?limit=&offset=``: a page of users."""
    page = Page.model_validate(dict(request.query))
    async with request.config_dict[ADMIN_CORE].uow() as uow:
        users = await uow.admin.list_users(limit=page.limit, offset=page.offset)
    items = [user_view(u) for u in users]
    return web.json_response({"items": items, "limit": page.limit, "offset": page.offset})


def _scope_refusal(scopes: list[str] | None) -> web.Response | None:
    """422 ``scope-invalid`` when a pattern matches no route name (a typo grants nothing)."""
    wrong = unmatched(scopes or ())
    if not wrong:
        return None
    detail = f"These scopes match no route: {', '.join(wrong)}."
    return problem(422, "scope-invalid", detail, scopes=wrong)


async def _create_user(request: web.Request) -> web.StreamResponse:
    """``POST /users``: 201 with the new user; 403 for an equal or higher level."""
    body = UserCreate.model_validate_json(await request.read())
    if (refused := _scope_refusal(body.scopes)) is not None:
        return refused
    core = request.config_dict[ADMIN_CORE]
    draft = AdminUser(
        username=body.username,
        level=AdminLevel.parse(body.level),
        password_hash="",
        created_at=core.now(),
        area=body.area,
        allowed_ips=tuple(body.allowed_ips),
        scopes=tuple(body.scopes),
    )
    user = await create_user(core, request[USER], remote_of(request), draft, body.password)
    return web.json_response(user_view(user), status=201)


async def _update_user(request: web.Request) -> web.StreamResponse:
    """``PATCH /users/{user_id}``: change a lower level's area, allow-list and/or scopes."""
    user_id = int(request.match_info["user_id"])
    body = UserUpdate.model_validate_json(await request.read())
    if (refused := _scope_refusal(body.scopes)) is not None:
        return refused
    changes: dict[str, object] = {}
    if "area" in body.model_fields_set:
        changes["area"] = body.area
    if body.allowed_ips is not None:
        changes["allowed_ips"] = tuple(body.allowed_ips)
    if body.scopes is not None:
        changes["scopes"] = tuple(body.scopes)
    core = request.config_dict[ADMIN_CORE]
    user = await change_user_access(core, request[USER], remote_of(request), user_id, changes)
    return web.json_response(user_view(user))


async def _disable_user(request: web.Request) -> web.StreamResponse:
    """``POST /users/{user_id}/disable``: the user can no longer log in or use tokens."""
    user_id = int(request.match_info["user_id"])
    core = request.config_dict[ADMIN_CORE]
    user = await disable_user(core, request[USER], remote_of(request), user_id)
    return web.json_response(user_view(user))


async def _create_key(request: web.Request) -> web.StreamResponse:
    """``POST /api-keys``: a machine key acting as the caller, shown this once."""
    body = ApiKeyRequest.model_validate_json(await request.read())
    core = request.config_dict[ADMIN_CORE]
    key = await create_api_key(core, request[USER], remote_of(request), body.name)
    return web.json_response({"name": body.name, "key": key}, status=201)


def add_user_routes(app: web.Application) -> None:
    """Register the session and user routes (names as in ``PERMISSIONS``)."""
    app.router.add_post("/login", _login, name="login")
    app.router.add_post("/logout", _logout, name="logout")
    app.router.add_get("/me", _me, name="me")
    app.router.add_get("/users", _list_users, name="users.list")
    app.router.add_post("/users", _create_user, name="users.create")
    app.router.add_patch(r"/users/{user_id:\d{1,18}}", _update_user, name="users.update")
    app.router.add_post(r"/users/{user_id:\d{1,18}}/disable", _disable_user, name="users.disable")
    app.router.add_post("/api-keys", _create_key, name="api_keys.create")
