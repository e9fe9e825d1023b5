"""Authentication and authorisation of ``/admin/v1``: bearer token or API key, then level.

``Authorization: Bearer <token>`` carries a login token or a machine API key; the user behind
it must be active and (when they have an IP allow-list) calling from an allowed address.
The route's name is looked up in :data:`admin_api.permissions.PERMISSIONS`: a route missing
from the table is refused for everyone (fail closed), a public one (None) skips the check.
After the level, a user with scopes must have one matching the route's name
(:mod:`admin_api.scopes`; 403 ``out-of-scope``).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from admin_api.context import ADMIN_CORE, TOKEN, USER
from admin_api.permissions import PERMISSIONS
from admin_api.problems import problem
from admin_api.scopes import in_scope
from vending_core.service.admin_accounts import NotAuthenticatedError, authenticate
from vending_core.service.admin_records import AdminLevel, AdminUser

__all__ = ["authorise", "remote_of"]


def remote_of(request: web.Request) -> str:
    """The caller's address (the peer; a proxy's forwarded header is not trusted here)."""
    return request.remote or ""


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@web.middleware
async def authorise(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 without a valid token, 403 below the route's level or out of the user's scopes."""
    name = request.match_info.route.name
    if name is None or name not in PERMISSIONS:
        return problem(404, "not-found", "No such resource.")
    required = PERMISSIONS[name]
    if required is None:
        return await handler(request)
    token = _bearer(request)
    if token is None:
        return _unauthenticated("A bearer token or API key is required.")
    try:
        user = await authenticate(request.config_dict[ADMIN_CORE], token, remote_of(request))
    except NotAuthenticatedError as exc:
        return _unauthenticated(exc.message)
    if (refused := _forbidden(user, name, required)) is not None:
        return refused
    request[USER] = user
    request[TOKEN] = token
    return await handler(request)


def _forbidden(user: AdminUser, name: str, required: AdminLevel) -> web.Response | None:
    """403 below the route's level, then 403 out of scope (a scope never raises a level)."""
    if user.level < required:
        return problem(403, "forbidden", f"This needs the {required.label} level or above.")
    if not in_scope(user.scopes, name):
        return problem(403, "out-of-scope", f"The user's scopes do not include {name!r}.")
    return None


def _unauthenticated(detail: str) -> web.Response:
    response = problem(401, "not-authenticated", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="vendgate-admin"'
    return response
