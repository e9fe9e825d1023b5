"""Partner API clients and the advice messages of the vending API (XMLVend-style).

* :func:`create_api_client` registers an API key for a vendor and returns its secret once;
  the secret is stored only sealed (:class:`SecretSealer`, AES-GCM under the KEK).
* :func:`load_api_client` gives the gateway what it needs to check a signature.
* :func:`last_response` is last-response advice: the stored response text of a request id,
  byte for byte, or :class:`~vending_core.domain.errors.TransactionNotFound` (retry as new).
* :func:`confirm_vend` is confirmation advice: it closes the sale, after which a reversal is
  refused. :func:`reverse_for_client` is reversal advice from the client that made the sale.

Refusals of this module only (the API's, besides the domain's ``VendingError`` tree, which
every channel must be able to word; these never reach USSD or SMS, so they are a separate
small tree with the same ``code`` / ``message`` shape)::

    ApiRefusal
    ├── ApiClientInvalid    api-client-invalid    unknown vendor, bad IP network, long name
    └── DuplicateInFlight   duplicate-in-flight   the request id is still being processed
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Final, Protocol

from vending_core.domain.errors import ReversalRefused, TransactionNotFound
from vending_core.domain.records import Vend
from vending_core.service.api_records import ApiClient
from vending_core.service.core import Core, RequestContext, customer_of, fingerprint
from vending_core.service.operations import reverse
from vending_core.service.ports import UnitOfWork
from vending_core.service.results import VendResult

__all__ = [
    "ApiClientInvalid",
    "ApiCredentials",
    "ApiRefusal",
    "DuplicateInFlight",
    "NewApiClient",
    "SecretSealer",
    "VendorBalance",
    "client_vend",
    "confirm_vend",
    "create_api_client",
    "last_response",
    "load_api_client",
    "reverse_for_client",
    "vendor_balance",
]

_KEY_PREFIX: Final = "vk_"
_CONFIRM_PREFIX: Final = "confirm:"  #: request id under which a confirmation is recorded
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ApiRefusal(Exception):  # noqa: N818 - a refusal, named like the domain's VendingError
    """A refusal of the partner API's use cases, with a stable ``code`` like VendingError's."""

    code = "api-refusal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiClientInvalid(ApiRefusal):
    """The client cannot be created (unknown vendor, bad IP network, bad name)."""

    code = "api-client-invalid"


class DuplicateInFlight(ApiRefusal):
    """The request id is claimed but its response is not stored yet: retry shortly."""

    code = "duplicate-in-flight"


class SecretSealer(Protocol):
    """Seals secrets at rest (``vending_core.adapters.api_secrets.SecretBox``)."""

    def seal(self, key_id: str, secret: bytes) -> str:
        """The sealed text of ``secret``, bound to ``key_id``."""
        ...

    def open(self, key_id: str, sealed: str) -> bytes:
        """The secret back (an error if the sealed text was altered)."""
        ...


@dataclass(frozen=True, slots=True)
class NewApiClient:
    """A created client: its secret is shown here once and never again."""

    key_id: str
    vendor_code: str
    allowed_ips: tuple[str, ...]
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """An active client as the signature check needs it."""

    key_id: str
    vendor_code: str
    networks: tuple[IpNetwork, ...]
    secret: bytes = field(repr=False)

    def allows(self, remote: str | None) -> bool:
        """Whether ``remote`` may call (any address when the allow-list is empty)."""
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)


@dataclass(frozen=True, slots=True)
class VendorBalance:
    """A vendor's float: balance, credit limit, what it may still sell (minor units)."""

    vendor_code: str
    balance: int
    credit_limit: int
    available: int


def _networks(allowed_ips: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in allowed_ips)
    except ValueError as exc:
        raise ApiClientInvalid(f"not an IP address or network: {exc}") from exc


async def create_api_client(
    core: Core,
    sealer: SecretSealer,
    *,
    vendor_code: str,
    name: str = "",
    allowed_ips: tuple[str, ...] = (),
) -> NewApiClient:
    """Register a new API key selling for ``vendor_code``; the secret is returned only here."""
    networks = tuple(str(n) for n in _networks(allowed_ips))
    if len(name) > 64:  # noqa: PLR2004 - the column's width
        raise ApiClientInvalid("the name is longer than 64 characters")
    key_id = _KEY_PREFIX + secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    async with core.uow() as uow:
        if await uow.vendors.get_by_code(vendor_code) is None:
            raise ApiClientInvalid(f"no vendor {vendor_code!r} is registered")
        client = ApiClient(
            key_id=key_id,
            vendor_code=vendor_code,
            name=name or vendor_code,
            sealed_secret=sealer.seal(key_id, secret.encode()),
            allowed_ips=networks,
            created_at=core.now(),
        )
        if not await uow.api_clients.add(client):  # pragma: no cover - 96 random bits
            raise ApiClientInvalid("key id collision; try again")
        await uow.commit()
    return NewApiClient(key_id, vendor_code, networks, secret)


async def load_api_client(core: Core, sealer: SecretSealer, key_id: str) -> ApiCredentials | None:
    """The active client with that key id and its opened secret, or None."""
    async with core.uow() as uow:
        client = await uow.api_clients.get(key_id)
    if client is None or not client.active:
        return None
    return ApiCredentials(
        key_id=client.key_id,
        vendor_code=client.vendor_code,
        networks=_networks(client.allowed_ips),
        secret=sealer.open(client.key_id, client.sealed_secret),
    )


async def last_response(core: Core, client_id: str, request_id: str) -> str:
    """The response text stored under the request id, exactly as first sent."""
    async with core.uow() as uow:
        stored = await uow.requests.get(client_id, request_id)
    if stored is None:
        raise TransactionNotFound(f"no transaction with idempotency key {request_id!r}")
    if stored.response is None:
        raise DuplicateInFlight(f"the request {request_id!r} is still being processed")
    return stored.response


async def _own_vend(uow: UnitOfWork, client_id: str, vend_id: int) -> Vend:
    vend = await uow.vends.get(vend_id)
    if vend is None or vend.client_id != client_id:  # another client's sale is not shown
        raise TransactionNotFound(f"no vend {vend_id} for this client")
    return vend


async def _result(uow: UnitOfWork, vend: Vend) -> VendResult:
    meter = await uow.meters.get(vend.meter_id)
    customer = None if meter is None else await customer_of(uow, meter)
    return VendResult.of_vend(vend, customer_name=customer.name if customer else "")


async def client_vend(core: Core, client_id: str, vend_id: int) -> VendResult:
    """The client's own vend as a receipt (TransactionNotFound for anyone else's)."""
    async with core.uow() as uow:
        return await _result(uow, await _own_vend(uow, client_id, vend_id))


async def confirm_vend(core: Core, client_id: str, vend_id: int) -> VendResult:
    """Confirmation advice: record that the client delivered the sale (idempotent)."""
    async with core.uow() as uow:
        vend = await _own_vend(uow, client_id, vend_id)
        request_id = f"{_CONFIRM_PREFIX}{vend_id}"
        result = await _result(uow, vend)
        if await uow.requests.claim(client_id, request_id, fingerprint("confirm", vend=vend_id)):
            await uow.requests.complete(client_id, request_id, result.to_json(), vend.id)
            await uow.commit()
        return result


async def reverse_for_client(
    core: Core, ctx: RequestContext, vend_id: int, *, reason: str
) -> VendResult:
    """Reversal advice from the client that made the sale, refused once it was confirmed."""
    async with core.uow() as uow:
        await _own_vend(uow, ctx.client_id, vend_id)
        confirmed = await uow.requests.get(ctx.client_id, f"{_CONFIRM_PREFIX}{vend_id}")
    if confirmed is not None:
        raise ReversalRefused(f"vend {vend_id} was confirmed by the client")
    return await reverse(core, ctx, vend_id, reason=reason, authorised_by=f"api:{ctx.client_id}")


async def vendor_balance(core: Core, vendor_code: str) -> VendorBalance:
    """The vendor's float (TransactionNotFound if the vendor is gone)."""
    async with core.uow() as uow:
        vendor = await uow.vendors.get_by_code(vendor_code)
    if vendor is None:
        raise TransactionNotFound(f"no vendor {vendor_code!r}")
    return VendorBalance(
        vendor_code=vendor.code,
        balance=vendor.balance,
        credit_limit=vendor.credit_limit,
        available=vendor.balance + vendor.credit_limit,
    )
