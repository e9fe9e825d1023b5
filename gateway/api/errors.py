"""Refusals of the vending core as RFC 9457 problem JSON with stable codes.

The problem ``type`` is ``https://vendgate.dev/problems/<code>`` with the core's
``VendingError.code``; the status says what kind of refusal it is::

    400  meter-number-invalid, api-client-invalid, invalid-request, malformed-json
    404  meter-unknown, transaction-not-found (safe to retry as new)
    409  meter-blocked, vendor-float-exhausted, fbe-not-due, reversal-refused,
         duplicate-in-flight (retry shortly), tid-exhausted
    422  amount-out-of-range, nothing-to-buy, idempotency-conflict, sts-data
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from pydantic import ValidationError

from gateway.problems import problem
from vending_core.domain.errors import AmountOutOfRange, VendingError
from vending_core.service.api_clients import ApiRefusal

__all__ = ["invalid_request", "vending_problem"]

_STATUS: Final = {
    "meter-number-invalid": 400,
    "api-client-invalid": 400,
    "meter-unknown": 404,
    "transaction-not-found": 404,
    "meter-blocked": 409,
    "vendor-float-exhausted": 409,
    "fbe-not-due": 409,
    "reversal-refused": 409,
    "duplicate-in-flight": 409,
    "tid-exhausted": 409,
}
_DEFAULT_STATUS: Final = 422


def vending_problem(exc: VendingError | ApiRefusal) -> web.Response:
    """The problem response of a core (or API use case) refusal."""
    extra: dict[str, object] = {}
    if isinstance(exc, AmountOutOfRange):
        extra = {"minimum": exc.minimum, "maximum": exc.maximum}
    return problem(_STATUS.get(exc.code, _DEFAULT_STATUS), exc.code, exc.message, **extra)


def invalid_request(exc: ValidationError) -> web.Response:
    """400 with one entry per invalid field (``malformed-json`` when it is not JSON at all)."""
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return problem(400, "malformed-json", "The body is not valid JSON.", errors=errors)
    return problem(400, "invalid-request", "The body has invalid fields.", errors=errors)
