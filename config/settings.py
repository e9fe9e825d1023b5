"""The settings object: built once from the environment, frozen, passed down.

Every setting has an environment variable ``VENDGATE_<NAME>``. :meth:`Settings.from_env` is
the only reader; the composition root calls it with ``os.environ`` and hands the object on.
Unset or empty variables take the defaults below; a bad value raises :class:`ConfigError`
naming the variable and what would be accepted.

=============================== =================================== ==========================
variable                        meaning                             default
=============================== =================================== ==========================
VENDGATE_ENVIRONMENT            ``development`` or ``production``   ``development``
VENDGATE_DATABASE_URL           SQLAlchemy URL (SQLite or Postgres) ``sqlite+aiosqlite:///
                                                                    vendgate.sqlite3``
VENDGATE_KEY_ENCRYPTION_KEY     32 bytes, base64: encrypts vending  a development key
                                keys at rest (AES-256-GCM)          (refused in production)
VENDGATE_UTILITY_TIMEZONE       IANA zone of the utility's months   ``UTC``
VENDGATE_DB_POOL_SIZE           PostgreSQL connections a process    ``10``
                                keeps open
VENDGATE_DB_POOL_OVERFLOW       connections it may open beyond      ``10``
                                those, closed again when returned
=============================== =================================== ==========================

Size the pools to the database, not to the traffic: every replica (and ``--workers``
process) opens up to size + overflow connections, and PostgreSQL spends less CPU per
purchase with fewer of them (``bench/load.py``: two replicas on a 2-core machine sold ~10 %
more with 6 + 2 each than with 10 + 10). ``docs/deploy.md`` gives the rule of thumb.

The gateway's own variables (USSD sessions, payments, SMS, callback protection) are listed in
:mod:`config.gateway`.

The default database is a file relative to the working directory. Generate a real key
encryption key (KEK) with::

    python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.errors import ConfigError
from config.gateway import GatewaySettings, gateway_from_env

__all__ = [
    "DEVELOPMENT_KEY_ENCRYPTION_KEY",
    "ConfigError",
    "Environment",
    "Settings",
]

_PREFIX = "VENDGATE_"
KEK_BYTES = 32
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///vendgate.sqlite3"

#: The key encryption key used when none is configured. Public (it is in the source code), so
#: it protects nothing: fine for a laptop and tests, refused when the environment is production.
DEVELOPMENT_KEY_ENCRYPTION_KEY = b"vendgate-DEVELOPMENT-ONLY-kek-32"


class Environment(enum.StrEnum):
    """Where Vendgate runs: production refuses development shortcuts."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Vendgate's configuration, immutable once built.

    Build it with :meth:`from_env`; the constructor is for tests that need a specific value.
    ``repr`` hides the key encryption key and any database password.
    """

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = DEFAULT_DATABASE_URL
    key_encryption_key: bytes = field(default=DEVELOPMENT_KEY_ENCRYPTION_KEY, repr=False)
    utility_timezone: str = "UTC"
    db_pool_size: int = 10
    db_pool_overflow: int = 10
    gateway: GatewaySettings = field(default_factory=GatewaySettings)

    def __post_init__(self) -> None:
        if self.db_pool_size < 1 or self.db_pool_overflow < 0:
            raise ConfigError(
                f"{_PREFIX}DB_POOL_SIZE must be at least 1 and {_PREFIX}DB_POOL_OVERFLOW at"
                f" least 0; got {self.db_pool_size} and {self.db_pool_overflow}"
            )
        if len(self.key_encryption_key) != KEK_BYTES:
            raise ConfigError(
                f"{_PREFIX}KEY_ENCRYPTION_KEY must be {KEK_BYTES} bytes,"
                f" got {len(self.key_encryption_key)}"
            )
        _check_timezone(self.utility_timezone)
        if self.environment is Environment.PRODUCTION and self.uses_development_kek:
            raise ConfigError(
                f"{_PREFIX}ENVIRONMENT is production but {_PREFIX}KEY_ENCRYPTION_KEY is not set"
                " (or is the public development key): set it to 32 random bytes in base64"
            )

    @property
    def uses_development_kek(self) -> bool:
        """True when the key encryption key is the public development default."""
        return self.key_encryption_key == DEVELOPMENT_KEY_ENCRYPTION_KEY

    @property
    def utility_zone(self) -> ZoneInfo:
        """The utility's time zone (calendar months for block tariffs and FBE)."""
        return ZoneInfo(self.utility_timezone)

    def __repr__(self) -> str:
        return (
            f"Settings(environment={self.environment.value!r},"
            f" database_url={_hide_password(self.database_url)!r},"
            f" key_encryption_key=<{'development' if self.uses_development_kek else 'hidden'}>,"
            f" utility_timezone={self.utility_timezone!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build the settings from ``VENDGATE_*`` variables (pass ``os.environ``).

        Raises:
            ConfigError: A variable holds an unusable value, or production lacks a real KEK.
        """
        return cls(
            environment=_environment(_get(environ, "ENVIRONMENT")),
            database_url=_get(environ, "DATABASE_URL") or DEFAULT_DATABASE_URL,
            key_encryption_key=_kek(_get(environ, "KEY_ENCRYPTION_KEY")),
            utility_timezone=_get(environ, "UTILITY_TIMEZONE") or "UTC",
            db_pool_size=_whole(environ, "DB_POOL_SIZE", 10),
            db_pool_overflow=_whole(environ, "DB_POOL_OVERFLOW", 10),
            gateway=gateway_from_env(environ),
        )


def _get(environ: Mapping[str, str], name: str) -> str | None:
    """The stripped value of ``VENDGATE_<name>``, or None when it is unset or empty."""
    value = environ.get(_PREFIX + name, "").strip()
    return value or None


def _whole(environ: Mapping[str, str], name: str, default: int) -> int:
    """``VENDGATE_<name>`` as a whole number (``default`` when unset)."""
    value = _get(environ, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{_PREFIX}{name} must be a whole number; got {value!r}") from None


def _environment(value: str | None) -> Environment:
    if value is None:
        return Environment.DEVELOPMENT
    try:
        return Environment(value.lower())
    except ValueError:
        allowed = ", ".join(e.value for e in Environment)
        raise ConfigError(f"{_PREFIX}ENVIRONMENT must be one of {allowed}; got {value!r}") from None


def _kek(value: str | None) -> bytes:
    if value is None:
        return DEVELOPMENT_KEY_ENCRYPTION_KEY
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        # The value is a secret: the message never repeats it.
        raise ConfigError(f"{_PREFIX}KEY_ENCRYPTION_KEY is not valid base64") from None
    if len(key) != KEK_BYTES:
        raise ConfigError(
            f"{_PREFIX}KEY_ENCRYPTION_KEY must decode to {KEK_BYTES} bytes, got {len(key)}"
        )
    return key


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{_PREFIX}UTILITY_TIMEZONE must be an IANA time zone such as 'Africa/Accra';"
            f" got {name!r}"
        ) from None


def _hide_password(url: str) -> str:
    """The URL with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
