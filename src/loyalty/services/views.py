"""How rows are shown to API callers and webhook receivers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def member_summary(member: Mapping[Any, Any]) -> dict[str, Any]:
    birthday = member["birthday"]
    return {
        "external_id": member["external_id"],
        "email": member["email"],
        "phone": member["phone"],
        "first_name": member["first_name"],
        "last_name": member["last_name"],
        "birthday": birthday.isoformat() if birthday else None,
        "locale": member["locale"],
        "consents": member["consents"] or {},
        "status": member["status"],
        "created_at": member["created_at"].isoformat(),
        "updated_at": member["updated_at"].isoformat(),
    }
