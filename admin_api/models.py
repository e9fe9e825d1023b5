"""Request bodies of ``/admin/v1``, validated with pydantic v2 (unknown fields refused).

Amounts are integer minor units and must be JSON integers. Levels are the names
``administrator``, ``sms_manager``, ``pos_manager``, ``operator``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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
]

MeterNumber = Annotated[str, Field(min_length=1, max_length=32, examples=["01234567897"])]
Amount = Annotated[int, Field(gt=0, le=100_000_000, strict=True, description="minor units")]
Reason = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
LevelName = Literal["administrator", "sms_manager", "pos_manager", "operator"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginRequest(_Body):
    """Username and password; the answer is a bearer token valid for 8 hours."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class UserCreate(_Body):
    """A new user of a level below the creator's (administrators: any level)."""

    username: Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    password: Annotated[str, Field(min_length=12, max_length=256)]
    level: LevelName
    area: Annotated[str | None, Field(max_length=32, description="vending point or SGC")] = None
    allowed_ips: Annotated[list[str], Field(max_length=20)] = []


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

    vend_id: Annotated[int, Field(gt=0, strict=True)]
    reason: Reason


class SalesQuery(_Body):
    """``?from=&to=&by=&format=``: credit sales in ``[from, to)`` (UTC-aware datetimes)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: Annotated[AwareDatetime, Field(alias="from")]
    end: Annotated[AwareDatetime, Field(alias="to")]
    by: Literal["day", "channel", "vendor"] = "day"
    format: Literal["json", "csv"] = "json"


class Page(_Body):
    """``?limit=&offset=``: one page of a list."""

    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0)] = 0


class AuditQuery(Page):
    """Audit filters: user id, action, entity, period ``[from, to)``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    user_id: int | None = None
    action: Annotated[str | None, Field(max_length=64)] = None
    entity: Annotated[str | None, Field(max_length=32)] = None
    start: Annotated[AwareDatetime | None, Field(alias="from")] = None
    end: Annotated[AwareDatetime | None, Field(alias="to")] = None


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
    status: Literal["active", "blocked"] | None = None
    customer_id: Annotated[int | None, Field(gt=0)] = None
