"""What use cases return, and how a result is stored for replay.

A result is a frozen value with a canonical JSON form. The JSON text is stored under
the request's idempotency key in the same transaction that creates the sale, and a
replay returns that exact text parsed back (``replayed=True``): the same tokens, never
new ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Self

from vending_core.domain.records import IssuedToken, TokenKind, Vend, VendKind, VendStatus

__all__ = ["CustomerInfo", "ReceiptLine", "TokenLine", "VendResult"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenLine:
    """One token on a receipt, in entry order."""

    kind: TokenKind
    token: str
    tid: int | None
    tenths: int | None
    description: str

    @classmethod
    def of(cls, token: IssuedToken) -> TokenLine:
        """The receipt line of a stored token."""
        return cls(
            kind=token.kind,
            token=token.token,
            tid=token.tid,
            tenths=token.tenths,
            description=token.description,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptLine:
    """One money line of a receipt (the lines sum to the gross amount)."""

    label: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerInfo:
    """Who owns the meter, as a vending point confirms it before selling."""

    meter_number: str
    utility: str
    name: str
    address: str
    can_vend: bool
    reason: str | None
    fbe_due_tenths: int
    min_amount: int
    max_amount: int | None
    language: str = "en"


@dataclass(frozen=True, slots=True, kw_only=True)
class VendResult:
    """A completed vend (sale, free issue, engineering or key change) as a receipt."""

    vend_id: int
    kind: VendKind
    status: VendStatus
    meter_number: str
    customer_name: str
    created_at: datetime
    gross: int
    tokens: tuple[TokenLine, ...]
    lines: tuple[ReceiptLine, ...] = ()
    steps: tuple[str, ...] = ()  #: "52.8 kWh @ 200.00 c/kWh"
    credit_tenths: int = 0
    fbe_tenths: int = 0
    tariff: str | None = None
    replayed: bool = field(default=False, compare=False)
    _json: str | None = field(default=None, init=False, compare=False, repr=False)

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, no spaces) stored for replay.

        The same text ``dataclasses.asdict`` gives (minus ``replayed`` and this cache,
        ``_json``), built without its recursive deep copy, which cost a large share of a
        vend's Python time; built once (the text stored for replay is the text answered).
        """
        text = self._json
        if text is None:
            text = self._render()
            object.__setattr__(self, "_json", text)  # frozen: a cache, not a change
        return text

    def _render(self) -> str:
        data: dict[str, Any] = {name: getattr(self, name) for name in _PLAIN_FIELDS}
        data["created_at"] = self.created_at.isoformat()
        data["tokens"] = [{name: getattr(t, name) for name in _TOKEN_FIELDS} for t in self.tokens]
        data["lines"] = [{name: getattr(x, name) for name in _LINE_FIELDS} for x in self.lines]
        data["steps"] = list(self.steps)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, *, replayed: bool = True) -> Self:
        """Parse a stored result."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            vend_id=data["vend_id"],
            kind=VendKind(data["kind"]),
            status=VendStatus(data["status"]),
            meter_number=data["meter_number"],
            customer_name=data["customer_name"],
            created_at=datetime.fromisoformat(data["created_at"]),
            gross=data["gross"],
            tokens=tuple(TokenLine(**{**t, "kind": TokenKind(t["kind"])}) for t in data["tokens"]),
            lines=tuple(ReceiptLine(**line) for line in data["lines"]),
            steps=tuple(data["steps"]),
            credit_tenths=data["credit_tenths"],
            fbe_tenths=data["fbe_tenths"],
            tariff=data["tariff"],
            replayed=replayed,
        )

    @classmethod
    def of_vend(cls, vend: Vend, *, customer_name: str, replayed: bool = False) -> Self:
        """The receipt of a stored vend (for reprints)."""
        breakdown = vend.breakdown or {}
        lines = breakdown.get("lines", [])
        return cls(
            vend_id=vend.id or 0,
            kind=vend.kind,
            status=vend.status,
            meter_number=vend.meter_number,
            customer_name=customer_name,
            created_at=vend.created_at,
            gross=vend.gross,
            tokens=tuple(TokenLine.of(t) for t in vend.tokens),
            lines=tuple(ReceiptLine(label=label, amount=amount) for label, amount in lines),
            steps=tuple(breakdown.get("step_text", [])),
            credit_tenths=sum(t.tenths or 0 for t in vend.tokens if t.kind == TokenKind.CREDIT),
            fbe_tenths=sum(t.tenths or 0 for t in vend.tokens if t.kind == TokenKind.FREE_BASIC),
            tariff=None
            if vend.tariff_code is None
            else f"{vend.tariff_code} v{vend.tariff_version}",
            replayed=replayed,
        )


_TOKEN_FIELDS = tuple(f.name for f in fields(TokenLine))
_LINE_FIELDS = tuple(f.name for f in fields(ReceiptLine))
#: VendResult fields stored as they are (the rest are converted in ``to_json``; ``_json`` is
#: its cache, never part of the receipt).
_PLAIN_FIELDS = tuple(
    f.name
    for f in fields(VendResult)
    if f.name not in ("replayed", "_json", "created_at", "tokens", "lines", "steps")
)
