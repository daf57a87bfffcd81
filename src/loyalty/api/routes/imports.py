"""POST /v1/imports: upload a history file; it is imported in the background with progress."""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from loyalty.api.deps import Admin, ClockDep, DbDep, Reader
from loyalty.domain.errors import ValidationFailed
from loyalty.integrations.files import read_rows
from loyalty.services import imports

router = APIRouter(prefix="/v1/imports", tags=["imports"])
log = logging.getLogger("loyalty.imports")
MAX_BYTES = 2 * 1024**3


@router.post("", status_code=202)
async def upload_import(
    request: Request,
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
    kind: Literal["orders", "customers"],
    filename: Annotated[str, Query(max_length=300, pattern=r"^[\w.\- ]+$")] = "upload.csv",
    history_only: bool = False,
    map: Annotated[list[str] | None, Query(description="our_field=their_column")] = None,
) -> dict[str, Any]:
    """Send the file as the request body (CSV with a header, or JSON Lines when the filename
    ends in .jsonl; .gz for gzip). Answers at once with the import's id; poll GET for progress."""
    mapping = _mapping(map or [])
    ctx = principal.context
    folder = Path(tempfile.mkdtemp(prefix="loyalty-import-"))
    path = folder / filename
    size = 0
    with path.open("wb") as handle:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BYTES:
                raise ValidationFailed("the file is larger than 2 GiB", field="body")
            handle.write(chunk)
    now = clock.now()
    import_id = await run_in_threadpool(
        db.run,
        ctx.tenant_id,
        lambda uow: imports.begin_import(uow, kind, filename, not history_only, mapping, now),
    )

    def work() -> None:
        try:
            imports.run_import(
                db,
                ctx,
                import_id,
                kind,
                read_rows(path),
                mapping=mapping,
                earn=not history_only,
                clock=clock,
            )
        except Exception:
            log.exception("import %s failed", import_id)
        finally:
            path.unlink(missing_ok=True)
            folder.rmdir()

    threading.Thread(target=work, name=f"loyalty-import-{import_id}", daemon=True).start()
    return {"id": import_id, "status": "running", "bytes": size}


@router.get("/{import_id}")
def get_import(import_id: int, principal: Reader, db: DbDep, clock: ClockDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return imports.import_view(uow, import_id, clock.now())


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        ours, _, theirs = pair.partition("=")
        if not theirs or ours not in imports.ORDER_FIELDS + imports.CUSTOMER_FIELDS:
            raise ValidationFailed(f"map wants our_field=their_column, got '{pair}'", field="map")
        mapping[ours] = theirs
    return mapping
