"""Tenants and their API keys. A key belongs to exactly one tenant; only its hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loyalty.domain.errors import DomainError, ErrorCode, ValidationFailed
from loyalty.domain.members import normalise_locale
from loyalty.domain.program import Program
from loyalty.services.context import TenantContext
from loyalty.store.uow import Database

SCOPES = ("read", "write", "admin")
KEY_PREFIX = "lk_"


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


@dataclass(frozen=True, slots=True)
class Principal:
    context: TenantContext
    scopes: frozenset[str]
    member_token_secret: str

    def require(self, scope: str) -> None:
        if scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(f"this API key lacks the '{scope}' scope")


@dataclass(frozen=True, slots=True)
class NewTenant:
    tenant_id: int
    api_key: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_key() -> tuple[str, str, str]:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{prefix}_{secret}", prefix, _hash(secret)


def _check_scopes(scopes: tuple[str, ...]) -> str:
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValidationFailed(f"scopes must be among {', '.join(SCOPES)}", field="scopes")
    return " ".join(s for s in SCOPES if s in scopes)


def create_tenant(
    db: Database,
    name: str,
    currency: str,
    timezone: str,
    locale: str,
    now: datetime,
    **settings: object,
) -> NewTenant:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"unknown time zone '{timezone}'", field="timezone") from exc
    locale = normalise_locale(locale) or "en"
    program = Program.from_dict({"currency": currency, **settings})
    with db.admin() as admin:
        if admin.find_tenant(name) is not None:
            raise ValidationFailed(f"a tenant named '{name}' exists", field="name")
        tenant_id = admin.add_tenant(
            name, program.currency, timezone, locale, secrets.token_urlsafe(32), now
        )
        admin.add_program(tenant_id, program.to_dict(), now)
        key, prefix, digest = _new_key()
        admin.add_key(tenant_id, "default", prefix, digest, _check_scopes(SCOPES), now)
    return NewTenant(tenant_id, key)


def create_key(
    db: Database, tenant_name: str, name: str, scopes: tuple[str, ...], now: datetime
) -> str:
    with db.admin() as admin:
        tenant = admin.find_tenant(tenant_name)
        if tenant is None:
            raise DomainError(f"no tenant named '{tenant_name}'")
        key, prefix, digest = _new_key()
        admin.add_key(tenant["id"], name, prefix, digest, _check_scopes(scopes), now)
    return key


def revoke_key(db: Database, key_or_prefix: str, now: datetime) -> bool:
    prefix = key_or_prefix.removeprefix(KEY_PREFIX).split("_", 1)[0]
    with db.admin() as admin:
        revoked = admin.revoke_key(prefix, now)
    forget_cached_keys()
    return revoked


# Verified keys are remembered briefly, so most requests cost no key lookup. A key revoked
# by another process (the CLI) stops working within this many seconds; in this process, at once.
KEY_CACHE_SECONDS = 5.0
_verified: dict[str, tuple[float, Principal]] = {}


def authenticate(db: Database, key: str) -> Principal:
    """Find the tenant an API key belongs to; one indexed lookup and a constant-time compare."""
    cached = _verified.get(key)
    if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_SECONDS:
        return cached[1]
    if not key.startswith(KEY_PREFIX) or "_" not in key[len(KEY_PREFIX) :]:
        raise Unauthenticated("the API key is malformed")
    prefix, secret = key[len(KEY_PREFIX) :].split("_", 1)
    with db.admin(read_only=True) as admin:
        record = admin.find_key(prefix)
    if (
        record is None
        or record.revoked
        or not hmac.compare_digest(record.secret_hash, _hash(secret))
    ):
        raise Unauthenticated("the API key is not valid")
    context = TenantContext(
        record.tenant_id,
        Program.from_dict(record.settings),
        ZoneInfo(record.timezone),
        f"key:{prefix}",
    )
    principal = Principal(context, record.scopes, record.member_token_secret)
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[key] = (time.monotonic(), principal)
    return principal


def forget_cached_keys() -> None:
    """Drop verified keys and the settings they carry (after a revocation or a programme change)."""
    _verified.clear()
