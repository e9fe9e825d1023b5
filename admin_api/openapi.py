"""The OpenAPI 3.1 document of ``/admin/v1``, generated from the route table and pydantic.

Each route name of :data:`admin_api.permissions.PERMISSIONS` has one entry here (method, path,
summary, body and query models); a test checks that the document and the router agree.
Request schemas come from the pydantic models; every refusal is ``application/problem+json``.
The minimum level of each operation is stated in ``x-min-level``.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from pydantic import BaseModel

from admin_api.models import (
    ApiKeyRequest,
    AuditQuery,
    BlockRequest,
    CustomerCreate,
    CustomerQuery,
    CustomerUpdate,
    LoginRequest,
    MeterQuery,
    Page,
    QuoteRequest,
    ReprintRequest,
    ReversalRequest,
    SalesQuery,
    UserCreate,
)
from admin_api.permissions import PERMISSIONS

__all__ = ["OPERATIONS", "Operation", "document"]

_REF: Final = "#/components/schemas/"


class Operation(NamedTuple):
    """One route as the document describes it."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None


OPERATIONS: Final = {
    "openapi": Operation("get", "/openapi.json", "This document"),
    "login": Operation("post", "/login", "Log in: a bearer token for 8 hours", LoginRequest),
    "logout": Operation("post", "/logout", "Log out: the token stops working"),
    "me": Operation("get", "/me", "The calling user"),
    "users.list": Operation("get", "/users", "List users", query=Page),
    "users.create": Operation("post", "/users", "Create a user of a lower level", UserCreate),
    "users.disable": Operation("post", "/users/{user_id}/disable", "Disable a user"),
    "api_keys.create": Operation("post", "/api-keys", "Create a machine API key", ApiKeyRequest),
    "audit.list": Operation("get", "/audit", "Read the audit log", query=AuditQuery),
    "customers.list": Operation("get", "/customers", "List customers", query=CustomerQuery),
    "customers.get": Operation("get", "/customers/{customer_id}", "A customer"),
    "customers.create": Operation("post", "/customers", "Create a customer", CustomerCreate),
    "customers.update": Operation(
        "patch", "/customers/{customer_id}", "Change a customer", CustomerUpdate
    ),
    "meters.list": Operation("get", "/meters", "List meters", query=MeterQuery),
    "meters.get": Operation("get", "/meters/{number}", "A meter's owner and sale limits"),
    "meters.block": Operation("post", "/meters/{number}/block", "Block a meter", BlockRequest),
    "meters.unblock": Operation(
        "post", "/meters/{number}/unblock", "Unblock a meter", BlockRequest
    ),
    "pos.quote": Operation("post", "/pos/quotes", "Quote a POS sale", QuoteRequest),
    "pos.vend": Operation("post", "/pos/vends", "POS credit vend (idempotent)", QuoteRequest),
    "pos.reprint": Operation("post", "/pos/reprints", "Reprint a meter's tokens", ReprintRequest),
    "pos.reverse": Operation("post", "/pos/reversals", "Reverse a credit vend", ReversalRequest),
    "reports.sales": Operation("get", "/reports/sales", "Sales report", query=SalesQuery),
}
_PROBLEM: Final = {
    "description": "RFC 9457 problem",
    "content": {
        "application/problem+json": {
            "schema": {
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
        }
    },
}


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    kinds = {"user_id": {"type": "integer"}, "customer_id": {"type": "integer"}}
    return [
        {"name": n, "in": "path", "required": True, "schema": kinds.get(n, {"type": "string"})}
        for n in names
    ]


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _operation(name: str, op: Operation) -> dict[str, Any]:
    level = PERMISSIONS[name]
    out: dict[str, Any] = {
        "operationId": name,
        "summary": op.summary,
        "x-min-level": None if level is None else level.label,
        "responses": {
            "200": {"description": "OK"},
            "default": {"$ref": "#/components/responses/Problem"},
        },
    }
    params = _path_params(op.path) + (_query_params(op.query) if op.query else [])
    if name == "pos.vend":
        key = {"type": "string", "minLength": 1, "maxLength": 100}
        params.append({"name": "Idempotency-Key", "in": "header", "required": True, "schema": key})
    if params:
        out["parameters"] = params
    if op.body is not None:
        ref = {"$ref": _REF + op.body.__name__}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    if level is not None:
        out["security"] = [{"bearer": []}]
    return out


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (server URL relative: ``/admin/v1``)."""
    paths: dict[str, dict[str, Any]] = {}
    for name, op in OPERATIONS.items():
        paths.setdefault(op.path, {})[op.method] = _operation(name, op)
    bodies = {op.body for op in OPERATIONS.values() if op.body is not None}
    schemas = {
        model.__name__: model.model_json_schema(ref_template=_REF + "{model}") for model in bodies
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Vendgate admin API", "version": "1.0.0"},
        "servers": [{"url": "/admin/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {"Problem": _PROBLEM},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
