"""Street agents who sell by SMS with a PIN, from their vendor's float (pure: no I/O).

An :class:`Agent` is a phone number (international digits, no ``+``) allowed to sell for one
vendor: ``BUY <meter> <amount> <PIN>`` from that number debits the vendor's float, under
the vendor's credit limit and commission, exactly as any sale by that vendor does.

PINs (4 to 8 digits) are stored only as ``HMAC-SHA256(salt, "<msisdn>:<pin>")``: the salt is
a deployment secret from configuration, never in the database, and the msisdn in the
message makes equal PINs of two agents hash differently. Checks compare in constant time
(:func:`pin_matches`). A 4-digit PIN has only 10 000 values, so guessing is stopped online by
the lockout (:class:`LockoutPolicy`): ``max_failures`` wrong PINs within ``window`` of the
first of them lock the agent for ``lockout``; a right PIN clears the count. A locked or
blocked agent is refused before its PIN is looked at.

Refusals (each a :class:`~vending_core.domain.errors.VendingError` with a stable code)::

    AgentUnknown    agent-unknown    no agent has that phone number
    AgentExists     agent-exists     the phone number is already an agent
    AgentInvalid    agent-invalid    bad phone number, PIN, name or vendor (message says which)
    AgentBlocked    agent-blocked    the agent is blocked by staff
    AgentLocked     agent-locked     too many wrong PINs; ``until`` says when the lock ends
    AgentPinWrong   agent-pin-wrong  the PIN is wrong
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from vending_core.domain.errors import VendingError

__all__ = [
    "Agent",
    "AgentBlocked",
    "AgentExists",
    "AgentInfo",
    "AgentInvalid",
    "AgentLocked",
    "AgentPinWrong",
    "AgentStatus",
    "AgentUnknown",
    "LockoutPolicy",
    "check_pin",
    "ensure_can_sell",
    "normalise_msisdn",
    "pin_hash",
    "pin_matches",
    "record_failure",
    "record_success",
]

_MSISDN_DIGITS: Final = range(8, 16)  # E.164: at most 15 digits, country code first
_PIN_DIGITS: Final = range(4, 9)
NAME_MAX: Final = 64


class AgentUnknown(VendingError):  # noqa: N818 - named for what happened, like the domain's refusals
    """No agent is registered under that phone number."""

    code = "agent-unknown"


class AgentExists(VendingError):  # noqa: N818 - as above
    """The phone number is already registered as an agent."""

    code = "agent-exists"


class AgentInvalid(VendingError):  # noqa: N818 - as above
    """A bad phone number, PIN, name or vendor code for an agent (the message says which)."""

    code = "agent-invalid"


class AgentBlocked(VendingError):  # noqa: N818 - as above
    """Staff have blocked the agent: no sales until unblocked."""

    code = "agent-blocked"


class AgentLocked(VendingError):  # noqa: N818 - as above
    """Too many wrong PINs: the agent may not sell until ``until``."""

    code = "agent-locked"

    def __init__(self, message: str, *, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class AgentPinWrong(VendingError):  # noqa: N818 - as above
    """The PIN does not match the agent's."""

    code = "agent-pin-wrong"


class AgentStatus(enum.StrEnum):
    """Whether an agent may sell."""

    ACTIVE = "active"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``max_failures`` wrong PINs within ``window`` of the first lock the agent for ``lockout``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, not {self.max_failures}")
        if self.window <= timedelta(0) or self.lockout <= timedelta(0):
            raise ValueError("window and lockout must be positive")


@dataclass(slots=True, kw_only=True)
class Agent:
    """An agent: who sells (``msisdn``), for which vendor, and the PIN lockout state.

    ``failed_pins`` counts wrong PINs since ``first_failed_at`` (None: no failures counted);
    ``locked_until`` is the end of the current or last lock (None: never locked).
    """

    msisdn: str
    vendor_code: str
    name: str
    pin_hash: str = field(repr=False)  #: HMAC of the PIN: a secret, never shown
    status: AgentStatus = AgentStatus.ACTIVE
    failed_pins: int = 0
    first_failed_at: datetime | None = None
    locked_until: datetime | None = None
    created_at: datetime

    def info(self) -> AgentInfo:
        """What may be shown about the agent (no PIN hash)."""
        return AgentInfo(
            msisdn=self.msisdn,
            vendor_code=self.vendor_code,
            name=self.name,
            status=self.status,
            locked_until=self.locked_until,
            created_at=self.created_at,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentInfo:
    """An agent as use cases return it: everything but the PIN hash and failure count."""

    msisdn: str
    vendor_code: str
    name: str
    status: AgentStatus
    locked_until: datetime | None
    created_at: datetime


def normalise_msisdn(text: str) -> str:
    """International digits: ``+``, spaces and dashes dropped; 8 to 15 digits, no leading 0."""
    digits = text.strip().removeprefix("+").replace(" ", "").replace("-", "")
    if not (
        digits.isascii()
        and digits.isdigit()
        and len(digits) in _MSISDN_DIGITS
        and not digits.startswith("0")
    ):
        raise AgentInvalid(f"{text!r} is not an international phone number")
    return digits


def _too_easy(pin: str) -> bool:
    """All one digit (0000) or a run up or down (1234, 9876)."""
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return steps in ({0}, {1}, {9})


def check_pin(pin: str) -> str:
    """The PIN if it is 4 to 8 digits and not trivially guessable; AgentInvalid otherwise."""
    if not (pin.isascii() and pin.isdigit() and len(pin) in _PIN_DIGITS):
        raise AgentInvalid("an agent PIN has 4 to 8 digits")
    if _too_easy(pin):
        raise AgentInvalid("the PIN is too easy to guess: no repeated digit or run")
    return pin


def pin_hash(msisdn: str, pin: str, salt: bytes) -> str:
    """The stored form of an agent's PIN: hex ``HMAC-SHA256(salt, "<msisdn>:<pin>")``."""
    return hmac.new(salt, f"{msisdn}:{pin}".encode(), hashlib.sha256).hexdigest()


def pin_matches(agent: Agent, pin: str, salt: bytes) -> bool:
    """Whether ``pin`` is the agent's PIN (constant-time comparison of the hashes)."""
    return hmac.compare_digest(agent.pin_hash, pin_hash(agent.msisdn, pin, salt))


def ensure_can_sell(agent: Agent, now: datetime) -> None:
    """Refuse a blocked agent, or one locked at ``now`` (the PIN is not looked at)."""
    if agent.status is AgentStatus.BLOCKED:
        raise AgentBlocked(f"agent {agent.msisdn} is blocked")
    if agent.locked_until is not None and now < agent.locked_until:
        raise AgentLocked(
            f"agent {agent.msisdn} is locked after wrong PINs until {agent.locked_until}",
            until=agent.locked_until,
        )


def record_failure(agent: Agent, now: datetime, policy: LockoutPolicy) -> bool:
    """Count a wrong PIN at ``now``; True if it locked the agent (the count starts over)."""
    if agent.first_failed_at is None or now - agent.first_failed_at > policy.window:
        agent.failed_pins, agent.first_failed_at = 0, now
    agent.failed_pins += 1
    if agent.failed_pins < policy.max_failures:
        return False
    agent.locked_until = now + policy.lockout
    agent.failed_pins, agent.first_failed_at = 0, None
    return True


def record_success(agent: Agent) -> bool:
    """Clear the failure count after a right PIN; True if there was anything to clear."""
    changed = agent.failed_pins != 0 or agent.first_failed_at is not None
    agent.failed_pins, agent.first_failed_at = 0, None
    return changed
