"""Tests for :mod:`config.backup`: ``VENDGATE_BACKUP_DIR``, ``_INTERVAL`` and ``_KEEP``."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.backup import BackupSettings, parse_interval
from config.settings import ConfigError, Settings


def test_backups_are_off_by_default_with_24_hours_and_7_files() -> None:
    """Nothing set: no directory (off), 24 h = 24 * 3600 = 86 400 s, keep 7."""
    backup = Settings.from_env({}).gateway.backup
    assert backup == BackupSettings(directory=None, interval=86_400.0, keep=7)
    assert not backup.enabled


def test_the_three_variables_are_read() -> None:
    """DIR turns backups on; INTERVAL 90m = 90 * 60 = 5400 s; KEEP 3."""
    backup = Settings.from_env(
        {
            "VENDGATE_BACKUP_DIR": "/var/backups/vendgate",
            "VENDGATE_BACKUP_INTERVAL": "90m",
            "VENDGATE_BACKUP_KEEP": "3",
        }
    ).gateway.backup
    assert backup == BackupSettings(
        directory=Path("/var/backups/vendgate"), interval=5400.0, keep=3
    )
    assert backup.enabled


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45", 45.0),  # bare seconds
        ("1.5s", 1.5),
        ("15m", 900.0),  # 15 * 60
        ("24h", 86_400.0),  # 24 * 3600
        ("7d", 604_800.0),  # 7 * 86 400
        (" 2H ", 7200.0),  # case and spaces do not matter: 2 * 3600
    ],
)
def test_intervals_in_seconds_or_with_a_unit(text: str, seconds: float) -> None:
    """Seconds, or a number with s, m, h or d."""
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["0", "0h", "-1h", "1w", "h", "soon", "nan"])
def test_a_bad_interval_names_the_variable(text: str) -> None:
    """Zero, negative, unknown units and words are refused with the variable's name."""
    with pytest.raises(ConfigError, match="VENDGATE_BACKUP_INTERVAL"):
        Settings.from_env({"VENDGATE_BACKUP_INTERVAL": text})


@pytest.mark.parametrize("text", ["0", "-2", "three", "1.5"])
def test_keep_must_be_a_whole_number_of_at_least_one(text: str) -> None:
    """KEEP 0 would delete every backup; fractions and words are refused too."""
    with pytest.raises(ConfigError, match="VENDGATE_BACKUP_KEEP"):
        Settings.from_env({"VENDGATE_BACKUP_KEEP": text})
