"""RFC 9457 problem details for ``/admin/v1``, and the middleware that translates refusals.

Problem types are ``https://vendgate.dev/problems/<code>``. Account refusals
(:class:`~vending_core.service.admin_accounts.AdminError`), core refusals
(:class:`~vending_core.domain.errors.VendingError`) and invalid bodies (pydantic) become
problems here; anything unexpected goes up to the gateway's own middleware (a bare 500).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from vending_core.domain.errors import VendingError
from vending_core.service.admin_accounts import AdminError

__all__ = ["PROBLEM_BASE", "problem", "refusals"]

PROBLEM_BASE: Final = "https://vendgate.dev/problems/"
_STATUS: Final = {
    "login-failed": 401,
    "account-locked": 423,
    "not-authenticated": 401,
    "level-refused": 403,
    "username-taken": 409,
    "user-unknown": 404,
    "meter-number-invalid": 400,
    "meter-unknown": 404,
    "transaction-not-found": 404,
    "meter-blocked": 409,
    "vendor-float-exhausted": 409,
    "reversal-refused": 409,
    "duplicate-in-flight": 409,
    "tid-exhausted": 409,
}


def problem(status: int, code: str, detail: str, **extra: object) -> web.Response:
    """A problem+json response with ``type`` from ``code``."""
    body = {"type": PROBLEM_BASE + code, "title": code.replace("-", " "), "status": status}
    body.update({"detail": detail, **extra})
    response = web.json_response(body, status=status)
    response.content_type = "application/problem+json"
    return response


def _invalid(exc: ValidationError) -> web.Response:
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return problem(400, "malformed-json", "The body is not valid JSON.", errors=errors)
    return problem(400, "invalid-request", "The request has invalid fields.", errors=errors)


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals into problems (inside the auth middleware, so after authorisation)."""
    try:
        return await handler(request)
    except (AdminError, VendingError) as exc:
        return problem(_STATUS.get(exc.code, 422), exc.code, exc.message)
    except ValidationError as exc:
        return _invalid(exc)
