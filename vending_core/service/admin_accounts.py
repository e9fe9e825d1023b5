"""Back-office accounts: users with four levels, login with lockout, tokens, API keys, audit.

Use cases shared by the admin API (``admin_api``) and the command line
(``vendgate admin create-user``). Refusals are :class:`AdminError` subclasses with a stable
``code``; the admin API turns them into problem JSON. Passwords are stored as scrypt hashes,
bearer tokens and API keys as their SHA-256; none of them is ever logged, returned after
creation, or written to the audit log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from vending_core.service.admin_records import (
    AdminLevel,
    AdminSession,
    AdminUser,
    AuditEntry,
    UserStatus,
)
from vending_core.service.core import Core
from vending_core.service.ports import UnitOfWork

__all__ = [
    "ACCESS_FIELDS",
    "LOCKOUT",
    "MAX_FAILURES",
    "SESSION_TTL",
    "AccountLockedError",
    "AdminError",
    "LevelRefusedError",
    "LoginFailedError",
    "NotAuthenticatedError",
    "UserUnknownError",
    "UsernameTakenError",
    "authenticate",
    "change_user_access",
    "create_api_key",
    "create_user",
    "disable_user",
    "hash_password",
    "login",
    "logout",
    "may_manage",
    "record",
    "token_digest",
    "user_view",
    "verify_password",
]

MAX_FAILURES: Final = 5
LOCKOUT: Final = timedelta(minutes=15)
SESSION_TTL: Final = timedelta(hours=8)
# scrypt is memory-hard: each guess needs 128 * r * n bytes (16 MiB here), so GPUs and ASICs
# cannot run many guesses in parallel the way they can with a plain or iterated hash. n=2**14,
# r=8, p=1 are the interactive-login parameters of RFC 7914 and OWASP's minimum; the salt is
# 16 random bytes per user, so equal passwords hash differently.
_N, _R, _P = 2**14, 8, 1
_MAXMEM: Final = 64 * 1024 * 1024
_MIN_PASSWORD: Final = 12
# Checked when the username is unknown, so that answer takes as long as a wrong password
# (no username enumeration by timing). The hash of a fixed phrase with a zero salt.
_DUMMY_HASH: Final = (
    "scrypt$16384$8$1$00000000000000000000000000000000$b913310630e5af1014e0a7f059e55e24"
    "6a460cf5b9a489243ce6934b29d1cd0348cbdca9743532661ac1f7cfed145397f8b3b36637d7272c2f"
    "b75fe608fcece4"
)


class AdminError(Exception):
    """A refused back-office request; ``code`` is stable, ``message`` safe to show."""

    code = "admin-refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LoginFailedError(AdminError):
    """Unknown user, wrong password, disabled user or address not allowed (not said which)."""

    code = "login-failed"


class AccountLockedError(AdminError):
    """Too many failed logins: the account is locked until ``locked_until``."""

    code = "account-locked"


class NotAuthenticatedError(AdminError):
    """No valid bearer token or API key."""

    code = "not-authenticated"


class LevelRefusedError(AdminError):
    """The user's level may not do this (create or change a user of an equal or higher level)."""

    code = "level-refused"


class UsernameTakenError(AdminError):
    """Another user has this username."""

    code = "username-taken"


class UserUnknownError(AdminError):
    """No user with this id."""

    code = "user-unknown"


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) of ``password`` with a fresh 16-byte salt."""
    if len(password) < _MIN_PASSWORD:
        raise ValueError(f"a password needs at least {_MIN_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${_scrypt(password, salt).hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` result (constant-time compare)."""
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    key = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=_MAXMEM
    )
    return hmac.compare_digest(key.hex(), digest)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a bearer token or API key is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def may_manage(actor: AdminLevel, target: AdminLevel) -> bool:
    """Administrators manage any level; others only levels strictly below their own."""
    return actor is AdminLevel.ADMINISTRATOR or target < actor


def user_view(user: AdminUser) -> dict[str, Any]:
    """A user as the API and the audit log show it (never the password hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "level": user.level.label,
        "area": user.area,
        "status": user.status.value,
        "allowed_ips": list(user.allowed_ips),
        "scopes": list(user.scopes),
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
    }


def _ip_allowed(user: AdminUser, remote: str) -> bool:
    if not user.allowed_ips:
        return True
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in user.allowed_ips)


async def record(
    uow: UnitOfWork, at: datetime, actor: AdminUser | None, remote: str, **what: Any
) -> None:
    """Append ``what`` (action, entity, entity_id, before, after) to the audit log."""
    user_id = actor.id if actor is not None else None
    await uow.admin.add_audit(AuditEntry(at=at, user_id=user_id, remote=remote, **what))


async def create_user(
    core: Core,
    actor: AdminUser | None,
    remote: str,
    user: AdminUser,
    password: str,
) -> AdminUser:
    """Store ``user`` with ``password`` hashed; ``actor`` None is the command line.

    Raises:
        LevelRefusedError: ``actor`` may not create ``user.level``.
        UsernameTakenError: the username is in use.
    """
    if actor is not None and not may_manage(actor.level, user.level):
        raise LevelRefusedError(f"a {actor.level.label} may not create a {user.level.label}")
    user.password_hash = await asyncio.to_thread(hash_password, password)
    user.created_at = core.now()
    user.created_by = actor.id if actor is not None else None
    async with core.uow() as uow:
        if await uow.admin.get_user_by_name(user.username) is not None:
            raise UsernameTakenError(f"username {user.username!r} is taken")
        user.id = await uow.admin.add_user(user)
        after = user_view(user)
        await record(
            uow,
            user.created_at,
            actor,
            remote,
            action="user.create",
            entity="user",
            entity_id=str(user.id),
            after=after,
        )
        await uow.commit()
    return user


async def disable_user(core: Core, actor: AdminUser, remote: str, user_id: int) -> AdminUser:
    """Disable a user of a lower level (their sessions stop working at once)."""
    return await _change_user(
        core,
        actor,
        remote,
        user_id,
        action="user.disable",
        change=lambda u: replace(u, status=UserStatus.DISABLED),
    )


async def _change_user(
    core: Core,
    actor: AdminUser,
    remote: str,
    user_id: int,
    *,
    action: str,
    change: Callable[[AdminUser], AdminUser],
) -> AdminUser:
    """Store ``change(user)`` for a user ``actor`` may manage, audited as ``action``.

    Raises:
        UserUnknownError: no user ``user_id``.
        LevelRefusedError: ``actor`` may not manage the user's level (see :func:`may_manage`).
    """
    async with core.uow() as uow:
        # Locked: a concurrent change (or login) waits, then reads this one's write.
        user = await uow.admin.get_user(user_id, lock=True)
        if user is None:
            raise UserUnknownError(f"no user {user_id}")
        if not may_manage(actor.level, user.level):
            raise LevelRefusedError(f"a {actor.level.label} may not change a {user.level.label}")
        changed = change(user)
        await uow.admin.update_user(changed)
        await record(
            uow,
            core.now(),
            actor,
            remote,
            action=action,
            entity="user",
            entity_id=str(user_id),
            before=user_view(user),
            after=user_view(changed),
        )
        await uow.commit()
    return changed


#: What :func:`change_user_access` may change: where and from where a user works, and scopes.
ACCESS_FIELDS: Final = frozenset({"area", "allowed_ips", "scopes"})


async def change_user_access(
    core: Core, actor: AdminUser, remote: str, user_id: int, changes: Mapping[str, Any]
) -> AdminUser:
    """Set a lower-level user's ``area``, ``allowed_ips`` and/or ``scopes`` (audited).

    ``changes`` holds only the fields to change (tuples for the two lists; ``area`` None
    removes the area). The audit entry ``user.update`` has the user before and after.

    Raises:
        UserUnknownError: no user ``user_id``.
        LevelRefusedError: ``actor`` may not manage the user's level (see :func:`may_manage`).
        ValueError: ``changes`` names another field (a programming error).
    """
    if not ACCESS_FIELDS.issuperset(changes):
        raise ValueError(f"only {sorted(ACCESS_FIELDS)} may be changed, not {sorted(changes)}")
    return await _change_user(
        core, actor, remote, user_id, action="user.update", change=lambda u: replace(u, **changes)
    )


async def _failed(core: Core, uow: UnitOfWork, user_id: int, remote: str) -> None:
    """Count a failed login; the fifth in a row locks the account for :data:`LOCKOUT`.

    The row is locked while counting: parallel wrong passwords are counted one at a time, so
    none is lost and the lockout comes after exactly :data:`MAX_FAILURES`.
    """
    user = await uow.admin.get_user(user_id, lock=True)
    if user is None:  # pragma: no cover - users are never deleted
        return
    now = core.now()
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILURES:
        user.failed_logins, user.locked_until = 0, now + LOCKOUT
    await uow.admin.update_user(user)
    action = "login.locked" if user.locked_until and user.locked_until > now else "login.failed"
    await record(uow, now, user, remote, action=action, entity="user", entity_id=str(user.id))
    await uow.commit()


async def _checked_user(core: Core, username: str, password: str, remote: str) -> AdminUser:
    """The user if the password is right; the slow scrypt runs outside any transaction."""
    async with core.uow() as uow:
        user = await uow.admin.get_user_by_name(username)
    if user is None or user.status is not UserStatus.ACTIVE:
        await asyncio.to_thread(verify_password, password, _DUMMY_HASH)
        raise LoginFailedError("wrong username or password")
    if user.locked_until is not None and user.locked_until > core.now():
        raise AccountLockedError(f"locked until {user.locked_until.isoformat()}")
    good = await asyncio.to_thread(verify_password, password, user.password_hash)
    if not good or not _ip_allowed(user, remote):
        async with core.uow() as uow:
            await _failed(core, uow, _id(user), remote)
        raise LoginFailedError("wrong username or password")
    return user


async def login(
    core: Core, username: str, password: str, remote: str
) -> tuple[str, AdminUser, datetime]:
    """Check the password; a new bearer token, its user and its expiry.

    Raises:
        LoginFailedError: unknown user, wrong password, disabled, or address not allowed.
        AccountLockedError: locked after :data:`MAX_FAILURES` failures (even with the password).
    """
    checked = await _checked_user(core, username, password, remote)
    now = core.now()
    token, expires = secrets.token_urlsafe(32), now + SESSION_TTL
    async with core.uow() as uow:
        user = await uow.admin.get_user(_id(checked), lock=True)
        if user is None:  # pragma: no cover - users are never deleted
            raise LoginFailedError("wrong username or password")
        user.failed_logins, user.locked_until = 0, None
        await uow.admin.update_user(user)
        await uow.admin.add_session(
            AdminSession(
                token_hash=token_digest(token),
                user_id=_id(user),
                kind="session",
                created_at=now,
                expires_at=expires,
            )
        )
        await record(uow, now, user, remote, action="login", entity="user", entity_id=str(user.id))
        await uow.commit()
    return token, user, expires


def _id(user: AdminUser) -> int:
    if user.id is None:  # pragma: no cover - stored users have ids
        raise ValueError("user has no id")
    return user.id


async def authenticate(core: Core, token: str, remote: str) -> AdminUser:
    """The active user behind a bearer token or API key; NotAuthenticatedError otherwise."""
    async with core.uow() as uow:
        session = await uow.admin.get_session(token_digest(token))
        if session is None:
            raise NotAuthenticatedError("unknown token")
        if session.expires_at is not None and session.expires_at <= core.now():
            raise NotAuthenticatedError("the token has expired")
        user = await uow.admin.get_user(session.user_id)
    if user is None or user.status is not UserStatus.ACTIVE or not _ip_allowed(user, remote):
        raise NotAuthenticatedError("the token's user may not sign in (disabled or address)")
    return user


async def logout(core: Core, actor: AdminUser, token: str, remote: str) -> None:
    """Forget the bearer token."""
    async with core.uow() as uow:
        await uow.admin.delete_session(token_digest(token))
        await record(
            uow, core.now(), actor, remote, action="logout", entity="user", entity_id=str(actor.id)
        )
        await uow.commit()


async def create_api_key(core: Core, actor: AdminUser, remote: str, name: str) -> str:
    """A new machine API key acting as ``actor`` (shown once; only its SHA-256 is stored)."""
    key = "vgk_" + secrets.token_urlsafe(32)
    now = core.now()
    async with core.uow() as uow:
        await uow.admin.add_session(
            AdminSession(
                token_hash=token_digest(key),
                user_id=_id(actor),
                kind="api_key",
                created_at=now,
                name=name,
            )
        )
        await record(
            uow,
            now,
            actor,
            remote,
            action="api_key.create",
            entity="user",
            entity_id=str(actor.id),
            after={"name": name},
        )
        await uow.commit()
    return key
