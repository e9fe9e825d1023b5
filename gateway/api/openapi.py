"""The OpenAPI 3.1 document of ``/api/v1``: request schemas from the pydantic models.

Responses are described by hand (vend receipts are ``VendResult.to_json``); every refusal is
``application/problem+json`` (RFC 9457) with a stable ``type``.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel

from gateway.api.models import (
    QuoteRequest,
    ReprintRequest,
    ReversalRequest,
    VendRequest,
    VoucherRedeemRequest,
)
from gateway.api.signing import API_KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = ["document"]

_REF: Final = "#/components/schemas/"
_PROBLEM: Final = {"$ref": "#/components/responses/Problem"}
_VEND: Final = {
    "description": "A vend receipt (canonical JSON; a replay gives the same bytes)",
    "content": {"application/json": {"schema": {"$ref": _REF + "VendResult"}}},
}
_VEND_RESULT: Final = {
    "type": "object",
    "required": ["vend_id", "kind", "status", "meter_number", "gross", "tokens"],
    "properties": {
        "vend_id": {"type": "integer"},
        "kind": {"type": "string"},
        "status": {"type": "string", "enum": ["completed", "reversed"]},
        "meter_number": {"type": "string"},
        "customer_name": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "gross": {"type": "integer", "description": "minor units"},
        "tokens": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string"},
                    "token": {"type": "string", "description": "20 digits, in groups of 4"},
                    "tid": {"type": ["integer", "null"]},
                    "tenths": {"type": ["integer", "null"], "description": "0.1 kWh units"},
                    "description": {"type": "string"},
                },
            },
        },
        "lines": {"type": "array", "items": {"type": "object"}},
        "steps": {"type": "array", "items": {"type": "string"}},
        "credit_tenths": {"type": "integer"},
        "fbe_tenths": {"type": "integer"},
        "tariff": {"type": ["string", "null"]},
    },
}
_PROBLEM_SCHEMA: Final = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": _REF + model.__name__}}},
    }


def _op(summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {"200": ok, "default": _PROBLEM}, **extra}


def _json_ok(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {}}}}


def _vend_id() -> list[dict[str, Any]]:
    return [{"name": "vend_id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def _paths() -> dict[str, Any]:
    idempotency = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"},
    }
    vend = _op("Credit vend (idempotent)", _VEND, requestBody=_body(VendRequest))
    vend["parameters"] = [idempotency]
    vend["responses"]["201"] = _VEND
    redeem = _op(
        "Redeem a scratch-card voucher for a vend (idempotent; the card pays its face value)",
        _VEND,
        requestBody=_body(VoucherRedeemRequest),
        parameters=[idempotency],
    )
    redeem["responses"]["201"] = _VEND
    last_key = {"name": "idempotency_key", "in": "query", "required": True, "schema": {}}
    return {
        "/quotes": {
            "post": _op("Trial vend", _json_ok("Breakdown"), requestBody=_body(QuoteRequest))
        },
        "/vends": {"post": vend},
        "/vends/last": {"get": _op("Last-response advice", _VEND, parameters=[last_key])},
        "/vends/{vend_id}": {"get": _op("One of the client's vends", _VEND, parameters=_vend_id())},
        "/vends/{vend_id}/confirm": {
            "post": _op("Confirmation advice", _VEND, parameters=_vend_id())
        },
        "/vends/{vend_id}/reversal": {
            "post": _op(
                "Reversal advice",
                _VEND,
                parameters=_vend_id(),
                requestBody=_body(ReversalRequest),
            )
        },
        "/reprints": {
            "post": _op("Reprint", _json_ok("Earlier vends"), requestBody=_body(ReprintRequest))
        },
        "/meters/{number}": {
            "get": _op(
                "Confirm customer",
                _json_ok("Customer and meter"),
                parameters=[{"name": "number", "in": "path", "required": True, "schema": {}}],
            )
        },
        "/vouchers/redeem": {"post": redeem},
        "/vendor/balance": {"get": _op("Vendor float", _json_ok("Balance, limit, available"))},
        "/openapi.json": {"get": {**_op("This document", _json_ok("OpenAPI")), "security": []}},
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built per call: nothing at import time)."""
    schemas: dict[str, Any] = {
        model.__name__: model.model_json_schema()
        for model in (
            QuoteRequest,
            VendRequest,
            ReversalRequest,
            ReprintRequest,
            VoucherRedeemRequest,
        )
    }
    schemas["VendResult"] = _VEND_RESULT
    schemas["Problem"] = _PROBLEM_SCHEMA
    security = {
        name: {"type": "apiKey", "in": "header", "name": name}
        for name in (API_KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vendgate partner vending API",
            "version": "1",
            "description": "Signed requests (see docs/api.md), idempotent vends, advice.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{name: [] for name in security}],
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": security,
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {"application/problem+json": {"schema": {"$ref": _REF + "Problem"}}},
                }
            },
        },
    }
