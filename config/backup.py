"""Settings of the gateway's scheduled backups (part of :class:`config.gateway.GatewaySettings`).

=================================== ============================================ ==============
variable                            meaning                                      default
=================================== ============================================ ==============
VENDGATE_BACKUP_DIR                 directory of scheduled backups; unset: none  (off)
VENDGATE_BACKUP_INTERVAL            time between backups: seconds, or a number   ``24h``
                                    with ``s``, ``m``, ``h`` or ``d`` (``90m``)
VENDGATE_BACKUP_KEEP                how many backup files to keep (the newest)   ``7``
=================================== ============================================ ==============
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from config.errors import ConfigError

__all__ = ["BackupSettings", "backup_from_env", "parse_interval"]

_PREFIX: Final = "VENDGATE_"
_UNITS: Final = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_INTERVAL: Final = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)$")
DEFAULT_INTERVAL: Final = 24 * 3600.0
DEFAULT_KEEP: Final = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupSettings:
    """Where, how often and how many scheduled backups (``directory`` None: off)."""

    directory: Path | None = None
    interval: float = DEFAULT_INTERVAL  #: seconds
    keep: int = DEFAULT_KEEP

    @property
    def enabled(self) -> bool:
        """Whether the gateway makes scheduled backups."""
        return self.directory is not None


def parse_interval(text: str) -> float:
    """Seconds in ``"86400"``, ``"90s"``, ``"15m"``, ``"24h"`` or ``"7d"`` (ValueError if not)."""
    match = _INTERVAL.match(text.strip().lower())
    if match is None:
        raise ValueError(text)
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(text)
    return seconds


def backup_from_env(environ: Mapping[str, str]) -> BackupSettings:
    """Build :class:`BackupSettings` from ``VENDGATE_BACKUP_*`` (ConfigError if bad)."""
    directory = environ.get(_PREFIX + "BACKUP_DIR", "").strip()
    interval = environ.get(_PREFIX + "BACKUP_INTERVAL", "").strip()
    keep = environ.get(_PREFIX + "BACKUP_KEEP", "").strip()
    try:
        seconds = parse_interval(interval) if interval else DEFAULT_INTERVAL
    except ValueError:
        raise ConfigError(
            f"{_PREFIX}BACKUP_INTERVAL must be seconds or a number with s, m, h or d"
            f" (like 24h); got {interval!r:.60}"
        ) from None
    try:
        count = int(keep) if keep else DEFAULT_KEEP
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(f"{_PREFIX}BACKUP_KEEP must be a whole number >= 1; got {keep!r:.60}")
    return BackupSettings(
        directory=Path(directory).expanduser() if directory else None,
        interval=seconds,
        keep=count,
    )
