"""Tests for :mod:`config.settings`: building the settings from ``VENDGATE_*`` variables."""

from __future__ import annotations

import base64
import dataclasses
from zoneinfo import ZoneInfo

import pytest

from config.settings import (
    DEVELOPMENT_KEY_ENCRYPTION_KEY,
    ConfigError,
    Environment,
    Settings,
)

REAL_KEK = bytes(range(100, 132))
REAL_KEK_B64 = base64.b64encode(REAL_KEK).decode()


def test_defaults_when_nothing_is_set() -> None:
    """No variables: development, the SQLite file in the cwd, the development KEK, UTC."""
    settings = Settings.from_env({})
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.database_url == "sqlite+aiosqlite:///vendgate.sqlite3"
    assert settings.key_encryption_key == DEVELOPMENT_KEY_ENCRYPTION_KEY
    assert settings.uses_development_kek
    assert settings.utility_timezone == "UTC"
    assert (settings.db_pool_size, settings.db_pool_overflow) == (10, 10)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"VENDGATE_DB_POOL_SIZE": "ten"}, "VENDGATE_DB_POOL_SIZE must be a whole number"),
        ({"VENDGATE_DB_POOL_OVERFLOW": "2.5"}, "VENDGATE_DB_POOL_OVERFLOW must be a whole"),
        ({"VENDGATE_DB_POOL_SIZE": "0"}, "DB_POOL_SIZE must be at least 1 .* got 0 and 10"),
        ({"VENDGATE_DB_POOL_OVERFLOW": "-1"}, "DB_POOL_OVERFLOW at least 0; got 10 and -1"),
    ],
)
def test_pool_sizes_are_whole_and_in_range(variables: dict[str, str], message: str) -> None:
    """A pool needs a connection; overflow may be 0; anything else names the variable."""
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(variables)


def test_every_variable_is_read() -> None:
    """Each VENDGATE_* variable sets its field; a real KEK is decoded from base64."""
    settings = Settings.from_env(
        {
            "VENDGATE_ENVIRONMENT": "production",
            "VENDGATE_DATABASE_URL": "postgresql://vendgate@db/vendgate",
            "VENDGATE_KEY_ENCRYPTION_KEY": REAL_KEK_B64,
            "VENDGATE_UTILITY_TIMEZONE": "Africa/Johannesburg",
            "VENDGATE_DB_POOL_SIZE": "6",
            "VENDGATE_DB_POOL_OVERFLOW": "0",
            "DATABASE_URL": "ignored: not a VENDGATE_ variable",
        }
    )
    assert settings == Settings(
        environment=Environment.PRODUCTION,
        database_url="postgresql://vendgate@db/vendgate",
        key_encryption_key=REAL_KEK,
        utility_timezone="Africa/Johannesburg",
        db_pool_size=6,
        db_pool_overflow=0,
    )
    assert not settings.uses_development_kek
    assert settings.utility_zone == ZoneInfo("Africa/Johannesburg")


def test_empty_or_blank_values_count_as_unset() -> None:
    """An empty or blank variable (as compose files often pass) takes the default."""
    names = (
        "ENVIRONMENT",
        "DATABASE_URL",
        "KEY_ENCRYPTION_KEY",
        "UTILITY_TIMEZONE",
        "DB_POOL_SIZE",
        "DB_POOL_OVERFLOW",
    )
    assert Settings.from_env({f"VENDGATE_{name}": " " for name in names}) == Settings()


def test_environment_is_case_insensitive_and_validated() -> None:
    """PRODUCTION is production; an unknown environment names the allowed values."""
    settings = Settings.from_env(
        {"VENDGATE_ENVIRONMENT": "PRODUCTION", "VENDGATE_KEY_ENCRYPTION_KEY": REAL_KEK_B64}
    )
    assert settings.environment is Environment.PRODUCTION
    with pytest.raises(ConfigError, match=r"VENDGATE_ENVIRONMENT .*development, production"):
        Settings.from_env({"VENDGATE_ENVIRONMENT": "staging"})


def test_production_refuses_the_development_kek() -> None:
    """Production without a KEK, or with the public development KEK, is a clear error."""
    dev_b64 = base64.b64encode(DEVELOPMENT_KEY_ENCRYPTION_KEY).decode()
    for kek in ({}, {"VENDGATE_KEY_ENCRYPTION_KEY": dev_b64}):
        with pytest.raises(ConfigError, match="production but VENDGATE_KEY_ENCRYPTION_KEY"):
            Settings.from_env({"VENDGATE_ENVIRONMENT": "production", **kek})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "must decode to 32 bytes, got 5"),
        (base64.b64encode(bytes(33)).decode(), "must decode to 32 bytes, got 33"),
    ],
)
def test_bad_kek_is_a_clear_error_that_does_not_repeat_it(value: str, message: str) -> None:
    """A KEK that is not base64 of 32 bytes is refused; the message never echoes the value."""
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({"VENDGATE_KEY_ENCRYPTION_KEY": value})
    assert value not in str(caught.value)


def test_kek_length_is_checked_by_the_constructor_too() -> None:
    """Settings built directly (in tests) still need a 32-byte KEK."""
    with pytest.raises(ConfigError, match="32 bytes"):
        Settings(key_encryption_key=b"x" * 16)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", "utc"])
def test_unknown_time_zone_is_a_clear_error(zone: str) -> None:
    """The utility time zone must be an IANA name zoneinfo knows."""
    with pytest.raises(ConfigError, match="VENDGATE_UTILITY_TIMEZONE must be an IANA time zone"):
        Settings.from_env({"VENDGATE_UTILITY_TIMEZONE": zone})


def test_repr_hides_the_kek_and_the_database_password() -> None:
    """The repr (and so any log line) shows neither the KEK nor a password in the URL."""
    settings = Settings(
        database_url="postgresql+asyncpg://vendgate:s3cret@db:5432/vendgate",
        key_encryption_key=REAL_KEK,
    )
    text = repr(settings)
    assert "s3cret" not in text
    assert "vendgate:***@db:5432" in text
    assert REAL_KEK_B64 not in text
    assert REAL_KEK.hex() not in text
    assert repr(REAL_KEK) not in text
    assert "key_encryption_key=<hidden>" in text
    assert "key_encryption_key=<development>" in repr(Settings())


def test_settings_are_frozen() -> None:
    """The settings object cannot be changed after it is built."""
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.database_url = "sqlite+aiosqlite:///other.sqlite3"  # type: ignore[misc]


def test_development_kek_is_a_32_byte_key_named_for_what_it_is() -> None:
    """The development default is an AES-256 key whose bytes say it is for development only."""
    assert len(DEVELOPMENT_KEY_ENCRYPTION_KEY) == 32
    assert b"DEVELOPMENT" in DEVELOPMENT_KEY_ENCRYPTION_KEY
