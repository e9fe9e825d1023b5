"""Request bodies of ``/admin/v1``, validated with pydantic v2 (unknown fields refused).

Amounts are integer minor units and must be JSON integers. Levels are the names
``administrator``, ``sms_manager``, ``pos_manager``, ``operator``.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

__all__ = [
    "ApiKeyRequest",
    "AuditQuery",
    "BlockRequest",
    "CustomerCreate",
    "CustomerQuery",
    "CustomerUpdate",
    "LoginRequest",
    "MeterQuery",
    "Page",
    "QuoteRequest",
    "ReprintRequest",
    "ReversalRequest",
    "SalesQuery",
    "UserCreate",
    "UserUpdate",
]

MeterNumber = Annotated[str, Field(min_length=1, max_length=32, examples=["01234567897"])]
Amount = Annotated[int, Field(gt=0, le=100_000_000, strict=True, description="minor units")]
Reason = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
LevelName = Literal["administrator", "sms_manager", "pos_manager", "operator"]
#: Ids and offsets go to BIGINT columns and OFFSET: larger numbers would overflow the driver
#: (a 500) instead of being refused (a 400), as the schemathesis property test found.
MAX_BIGINT = 2**63 - 1


def _utc_representable(value: datetime) -> datetime:
    """Refuse (400) a time that leaves years 1-9999 once in UTC (0001-01-01T00:00+01:00)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None
    return value


#: An ISO 8601 time with an offset that the database can store (it stores UTC).
Instant = Annotated[AwareDatetime, AfterValidator(_utc_representable)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginRequest(_Body):
    """Username and password; the answer is a bearer token valid for 8 hours."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


def _ip_network(value: str) -> str:
    """Refuse (400) an allow-list entry that is not an address or CIDR network."""
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError("not an IP address or network") from None
    return value


#: An allow-list entry: ``192.0.2.7``, ``10.0.0.0/8``, ``2001:db8::/32`` (kept as written).
IpNetworkText = Annotated[str, Field(max_length=64), AfterValidator(_ip_network)]
#: A route-name pattern (``fnmatch``: ``*``, ``?``, ``[...]``) such as ``reports.*``; the
#: handlers also refuse (422 ``scope-invalid``) one that matches no route.
Scope = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.*?\[\]!-]+$")]
Area = Annotated[str, Field(min_length=1, max_length=32, description="vending point or SGC")]


class UserCreate(_Body):
    """A new user of a level below the creator's (administrators: any level).

    ``scopes``: route-name patterns limiting the user within their level (empty: all of it).
    """

    username: Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    password: Annotated[str, Field(min_length=12, max_length=256)]
    level: LevelName
    area: Annotated[str | None, Field(max_length=32, description="vending point or SGC")] = None
    allowed_ips: Annotated[list[IpNetworkText], Field(max_length=20)] = []
    scopes: Annotated[list[Scope], Field(max_length=50)] = []


class UserUpdate(_Body):
    """A lower-level user's access: the fields sent change, those left out keep their value.

    ``area`` null removes the area; ``[]`` empties the allow-list (any address) or the scopes
    (every route of the level); ``allowed_ips`` or ``scopes`` null is the same as leaving
    them out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"minProperties": 1})

    area: Area | None = None
    allowed_ips: Annotated[list[IpNetworkText] | None, Field(max_length=20)] = None
    scopes: Annotated[list[Scope] | None, Field(max_length=50)] = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("send at least one of area, allowed_ips, scopes")
        return self


class ApiKeyRequest(_Body):
    """A machine API key acting as the calling user."""

    name: Annotated[str, Field(min_length=1, max_length=64)]


class BlockRequest(_Body):
    """Why a meter is blocked or unblocked (recorded with who did it)."""

    reason: Reason


class QuoteRequest(_Body):
    """A trial vend: what ``amount`` would buy (nothing is stored)."""

    meter_number: MeterNumber
    amount: Amount


class ReprintRequest(_Body):
    """The meter's last vends, to print their tokens again."""

    meter_number: MeterNumber


class ReversalRequest(_Body):
    """Reverse a credit vend; the reason is required."""

    vend_id: Annotated[int, Field(gt=0, le=MAX_BIGINT, strict=True)]
    reason: Reason


class SalesQuery(_Body):
    """``?from=&to=&by=&format=``: credit sales in ``[from, to)`` (UTC-aware datetimes)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: Annotated[Instant, Field(alias="from")]
    end: Annotated[Instant, Field(alias="to")]
    by: Literal["day", "channel", "vendor"] = "day"
    format: Literal["json", "csv"] = "json"


class Page(_Body):
    """``?limit=&offset=``: one page of a list."""

    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_BIGINT)] = 0


class AuditQuery(Page):
    """Audit filters: user id, action, entity, period ``[from, to)``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    user_id: Annotated[int | None, Field(gt=0, le=MAX_BIGINT)] = None
    action: Annotated[str | None, Field(max_length=64)] = None
    entity: Annotated[str | None, Field(max_length=32)] = None
    start: Annotated[Instant | None, Field(alias="from")] = None
    end: Annotated[Instant | None, Field(alias="to")] = None


Phone = Annotated[str, Field(pattern=r"^\+?[0-9]{6,15}$")]


class CustomerCreate(_Body):
    """A new customer account (the account number is unique)."""

    account_number: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=256)]
    address: Annotated[str, Field(max_length=1000)] = ""
    phones: Annotated[list[Phone], Field(max_length=5)] = []
    language: Literal["en", "ar", "fr", "sw"] = "en"


class CustomerUpdate(_Body):
    """The fields to change (those left out keep their value)."""

    name: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    address: Annotated[str | None, Field(max_length=1000)] = None
    phones: Annotated[list[Phone] | None, Field(max_length=5)] = None
    language: Literal["en", "ar", "fr", "sw"] | None = None


class CustomerQuery(Page):
    """Customer filters: ``name`` contains (any case), ``account`` starts with."""

    name: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    account: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class MeterQuery(Page):
    """Meter filters: supply group, status, customer id."""

    sgc: Annotated[str | None, Field(pattern=r"^[0-9]{6}$")] = None
    status: Literal["active", "blocked", "replaced"] | None = None
    customer_id: Annotated[int | None, Field(gt=0, le=MAX_BIGINT)] = None
