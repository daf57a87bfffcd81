"""Tenants and API keys: the only queries not scoped to one tenant, used to find the tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from loyalty.store.tables import api_keys, programs, tenants


@dataclass(frozen=True, slots=True)
class KeyRecord:
    tenant_id: int
    tenant_name: str
    timezone: str
    locale: str
    member_token_secret: str
    secret_hash: str
    scopes: frozenset[str]
    revoked: bool
    settings: dict[str, Any]


class TenantRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_tenant(
        self, name: str, currency: str, timezone: str, locale: str, secret: str, now: datetime
    ) -> int:
        values = dict(name=name, currency=currency, timezone=timezone, locale=locale)
        stmt = tenants.insert().values(**values, member_token_secret=secret, created_at=now)
        return int(self.conn.execute(stmt.returning(tenants.c.id)).scalar_one())

    def add_program(self, tenant_id: int, settings: dict[str, Any], now: datetime) -> None:
        self.conn.execute(
            programs.insert().values(
                tenant_id=tenant_id, settings=settings, version=1, updated_at=now
            )
        )

    def find_tenant(self, name: str) -> Any:
        return self.conn.execute(select(tenants).where(tenants.c.name == name)).mappings().first()

    def list_tenants(self) -> list[Any]:
        return list(self.conn.execute(select(tenants).order_by(tenants.c.id)).mappings())

    def add_key(
        self, tenant_id: int, name: str, prefix: str, secret_hash: str, scopes: str, now: datetime
    ) -> None:
        self.conn.execute(
            api_keys.insert().values(
                tenant_id=tenant_id,
                name=name,
                prefix=prefix,
                secret_hash=secret_hash,
                scopes=scopes,
                created_at=now,
            )
        )

    def revoke_key(self, prefix: str, now: datetime) -> bool:
        stmt = (
            update(api_keys)
            .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return self.conn.execute(stmt).rowcount == 1

    def find_key(self, prefix: str) -> KeyRecord | None:
        stmt = (
            select(
                api_keys.c.tenant_id,
                api_keys.c.secret_hash,
                api_keys.c.scopes,
                api_keys.c.revoked_at,
                tenants.c.name,
                tenants.c.timezone,
                tenants.c.locale,
                tenants.c.member_token_secret,
                programs.c.settings,
            )
            .join(tenants, tenants.c.id == api_keys.c.tenant_id)
            .join(programs, programs.c.tenant_id == api_keys.c.tenant_id)
            .where(api_keys.c.prefix == prefix)
        )
        row = self.conn.execute(stmt).first()
        if row is None:
            return None
        return KeyRecord(
            tenant_id=row.tenant_id,
            tenant_name=row.name,
            timezone=row.timezone,
            locale=row.locale,
            member_token_secret=row.member_token_secret,
            secret_hash=row.secret_hash,
            scopes=frozenset(row.scopes.split()),
            revoked=row.revoked_at is not None,
            settings=row.settings,
        )
