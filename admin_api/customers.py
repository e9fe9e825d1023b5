"""Handlers of customer accounts: list (filtered, paginated), get, create, update.

Every change is audited with the values before and after (customers hold no secrets).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from admin_api.audit import audit
from admin_api.context import ADMIN_CORE
from admin_api.models import CustomerCreate, CustomerQuery, CustomerUpdate
from admin_api.problems import problem
from vending_core.domain.model import Customer

__all__ = ["add_customer_routes"]


def _view(customer: Customer) -> dict[str, Any]:
    data = asdict(customer)
    data["phones"] = list(customer.phones)
    return data


def _not_found(customer_id: int) -> web.Response:
    return problem(404, "customer-unknown", f"No customer {customer_id}.")


async def _list(request: web.Request) -> web.StreamResponse:
    """``GET /customers?name=&account=&limit=&offset=``."""
    query = CustomerQuery.model_validate(dict(request.query))
    async with request.config_dict[ADMIN_CORE].uow() as uow:
        found = await uow.admin.list_customers(
            name=query.name, account=query.account, limit=query.limit, offset=query.offset
        )
    items = [_view(c) for c in found]
    return web.json_response({"items": items, "limit": query.limit, "offset": query.offset})


async def _get(request: web.Request) -> web.StreamResponse:
    """``GET /customers/{customer_id}``."""
    customer_id = int(request.match_info["customer_id"])
    async with request.config_dict[ADMIN_CORE].uow() as uow:
        customer = await uow.customers.get(customer_id)
    return _not_found(customer_id) if customer is None else web.json_response(_view(customer))


async def _create(request: web.Request) -> web.StreamResponse:
    """``POST /customers``: 201 with the new customer; 409 if the account number is taken."""
    body = CustomerCreate.model_validate_json(await request.read())
    customer = Customer(**{**body.model_dump(), "phones": tuple(body.phones)})
    async with request.config_dict[ADMIN_CORE].uow() as uow:
        taken = problem(409, "account-taken", "Another customer has this account number.")
        if await uow.customers.get_by_account(body.account_number) is not None:
            return taken
        try:
            customer.id = await uow.customers.add(customer)
        except ValueError:  # a concurrent create took the account number after the check
            return taken
        await uow.commit()
    await audit(request, "customer.create", "customer", customer.id, after=_view(customer))
    return web.json_response(_view(customer), status=201)


async def _update(request: web.Request) -> web.StreamResponse:
    """``PATCH /customers/{customer_id}``: change the fields given."""
    customer_id = int(request.match_info["customer_id"])
    body = CustomerUpdate.model_validate_json(await request.read())
    changes = body.model_dump(exclude_none=True)
    if "phones" in changes:
        changes["phones"] = tuple(changes["phones"])
    async with request.config_dict[ADMIN_CORE].uow() as uow:
        customer = await uow.customers.get(customer_id)
        if customer is None:
            return _not_found(customer_id)
        before = _view(customer)
        for name, value in changes.items():
            setattr(customer, name, value)
        await uow.customers.update(customer)
        await uow.commit()
    after = _view(customer)
    await audit(request, "customer.update", "customer", customer_id, before=before, after=after)
    return web.json_response(after)


def add_customer_routes(app: web.Application) -> None:
    """Register the customer routes (names as in ``PERMISSIONS``)."""
    one = r"/customers/{customer_id:\d{1,18}}"
    app.router.add_get("/customers", _list, name="customers.list")
    app.router.add_post("/customers", _create, name="customers.create")
    app.router.add_get(one, _get, name="customers.get")
    app.router.add_patch(one, _update, name="customers.update")
