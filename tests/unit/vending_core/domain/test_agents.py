"""The agent rules, pure: phone numbers, PIN format, hashing, lockout arithmetic."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from vending_core.domain.agents import (
    Agent,
    AgentBlocked,
    AgentInvalid,
    AgentLocked,
    AgentStatus,
    LockoutPolicy,
    check_pin,
    ensure_can_sell,
    normalise_msisdn,
    pin_hash,
    pin_matches,
    record_failure,
    record_success,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SALT = b"salt"
POLICY = LockoutPolicy(max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=30))


def _agent() -> Agent:
    return Agent(
        msisdn="233244123456",
        vendor_code="V1",
        name="Ama",
        pin_hash=pin_hash("233244123456", "4821", SALT),
        created_at=T0,
    )


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("+233 24 412 3456", "233244123456"),
        ("233-244-123456", "233244123456"),
        ("12345678", "12345678"),  # 8 digits: the shortest accepted
        ("123456789012345", "123456789012345"),  # 15: the E.164 maximum
    ],
)
def test_msisdn_is_kept_as_international_digits(text: str, digits: str) -> None:
    """'+', spaces and dashes go; 8 to 15 digits remain."""
    assert normalise_msisdn(text) == digits


@pytest.mark.parametrize("text", ["0244123456", "1234567", "1234567890123456", "+233abc", ""])
def test_msisdn_that_is_not_international_is_refused(text: str) -> None:
    """A national number (leading 0), too short, too long or not digits is AgentInvalid."""
    with pytest.raises(AgentInvalid):
        normalise_msisdn(text)


@pytest.mark.parametrize("pin", ["4821", "1357", "20261125", "00001"])
def test_pins_of_4_to_8_digits_that_are_not_runs_pass(pin: str) -> None:
    """Any 4-8 digits but one repeated digit or a run of +1/-1 steps."""
    assert check_pin(pin) == pin


FULLWIDTH_1234 = "\uff11\uff12\uff13\uff14"  # digits to str.isdigit(), not ASCII


@pytest.mark.parametrize(
    "pin", ["123", "123456789", "12a4", FULLWIDTH_1234, "0000", "5678", "8901", "3210"]
)
def test_short_long_non_digit_and_easy_pins_are_refused(pin: str) -> None:
    """Length, ASCII digits, and the obvious guesses (repeats, runs, 8901 wraps) are checked."""
    with pytest.raises(AgentInvalid):
        check_pin(pin)


def test_pin_hash_is_hmac_sha256_of_msisdn_and_pin() -> None:
    """Hex HMAC-SHA256 under the salt of "<msisdn>:<pin>"; two agents' equal PINs differ."""
    expected = hmac.new(b"salt", b"233244123456:4821", hashlib.sha256).hexdigest()
    assert pin_hash("233244123456", "4821", SALT) == expected
    assert pin_hash("233244123457", "4821", SALT) != expected
    agent = _agent()
    assert pin_matches(agent, "4821", SALT)
    assert not pin_matches(agent, "4821", b"other salt")
    assert not pin_matches(agent, "4822", SALT)


def test_third_failure_within_the_window_locks_for_the_lockout() -> None:
    """Failures at 0, 5 and 15 min (the last exactly at the window) lock until 45 min."""
    agent = _agent()
    assert not record_failure(agent, T0, POLICY)
    assert not record_failure(agent, T0 + timedelta(minutes=5), POLICY)
    assert record_failure(agent, T0 + timedelta(minutes=15), POLICY)
    assert agent.locked_until == T0 + timedelta(minutes=45)
    assert (agent.failed_pins, agent.first_failed_at) == (0, None)


def test_a_failure_after_the_window_starts_a_new_series() -> None:
    """Failures at 0, 5, then 15 min 1 s: the window of the first has passed, count is 1."""
    agent = _agent()
    record_failure(agent, T0, POLICY)
    record_failure(agent, T0 + timedelta(minutes=5), POLICY)
    later = T0 + timedelta(minutes=15, seconds=1)
    assert not record_failure(agent, later, POLICY)
    assert (agent.failed_pins, agent.first_failed_at, agent.locked_until) == (1, later, None)


def test_success_clears_the_count() -> None:
    """After a right PIN the count is 0; clearing nothing reports False (no write needed)."""
    agent = _agent()
    record_failure(agent, T0, POLICY)
    assert record_success(agent)
    assert (agent.failed_pins, agent.first_failed_at) == (0, None)
    assert not record_success(agent)


def test_lock_and_block_refuse_and_the_lock_ends_on_time() -> None:
    """Locked until t: refused before t, allowed at t. Blocked: refused whatever the time."""
    agent = _agent()
    agent.locked_until = T0
    with pytest.raises(AgentLocked):
        ensure_can_sell(agent, T0 - timedelta(microseconds=1))
    ensure_can_sell(agent, T0)
    agent.status = AgentStatus.BLOCKED
    with pytest.raises(AgentBlocked):
        ensure_can_sell(agent, T0 + timedelta(days=1))


@pytest.mark.parametrize(
    ("failures", "window", "lockout"),
    [(0, timedelta(minutes=1), timedelta(minutes=1)), (3, timedelta(0), timedelta(minutes=1))],
)
def test_policy_needs_a_failure_and_positive_times(
    failures: int, window: timedelta, lockout: timedelta
) -> None:
    """max_failures below 1, or a window or lockout that is not positive, is a ValueError."""
    with pytest.raises(ValueError, match="must"):
        LockoutPolicy(max_failures=failures, window=window, lockout=lockout)
