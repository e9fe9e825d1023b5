"""BindConfig: validation, a password that never shows, and the reconnect schedule."""

from __future__ import annotations

import pytest

from smpp.config import BindConfig


def _config(**changes: object) -> BindConfig:
    fields: dict[str, object] = {
        "name": "safaricom",
        "host": "127.0.0.1",
        "port": 2775,
        "system_id": "vendgate",
        "password": "s3cr3t",
        "reconnect_base_s": 1.0,
        "reconnect_cap_s": 60.0,
        "reconnect_jitter": 0.5,
    }
    fields.update(changes)
    return BindConfig(**fields)  # type: ignore[arg-type]


def test_repr_hides_the_password() -> None:
    """The password is never in repr (logs print configs)."""
    assert "s3cr3t" not in repr(_config())
    assert "vendgate" in repr(_config())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("system_id", "x" * 16),  # SMPP 3.4: at most 15 characters
        ("password", "x" * 9),  # at most 8
        ("system_type", "x" * 13),  # at most 12
        ("window", 0),
        ("tps", 0),
        ("prefixes", ("+254",)),
        ("name", ""),
    ],
)
def test_invalid_values_are_refused(field: str, value: object) -> None:
    """Values the SMSC would refuse (or nonsense) fail at start-up, not at bind time."""
    with pytest.raises(ValueError, match=r"\w"):
        _config(**{field: value})


def test_a_long_password_error_does_not_echo_it() -> None:
    """Even the validation error keeps the password out."""
    with pytest.raises(ValueError, match="password") as caught:
        _config(password="toolongpw")
    assert "toolongpw" not in str(caught.value)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    """Base 1 s: 1, 2, 4 ... capped at 60; draw 0 gives the plain value, draw 0.5 x0.75."""
    config = _config()
    assert [config.backoff(n, 0.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert config.backoff(7, 0.0) == 60.0  # 64 capped
    assert config.backoff(100, 0.0) == 60.0
    assert config.backoff(3, 0.5) == 4.0 * (1 - 0.5 * 0.5)
