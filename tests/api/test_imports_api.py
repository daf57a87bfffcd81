"""POST /v1/imports: a file uploaded, imported in the background, progress to poll."""

from __future__ import annotations

import time
from typing import Any

from tests.api.support import Api, assert_problem, bearer

CSV = (
    "order_id,customer_id,ordered_at,sku,quantity,unit_price\n"
    "W1,c1,2026-03-01 10:00:00,A,2,10.00\n"
    "W2,c2,2026-03-01 11:00:00,B,1,oops\n"
)


def wait_until_finished(api: Api, import_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        view = api.client.get(f"/v1/imports/{import_id}").json()
        if view["status"] != "running":
            return view
        time.sleep(0.05)
    raise AssertionError("import did not finish")


def test_upload_runs_in_the_background_and_reports_progress(api: Api) -> None:
    response = api.client.post(
        "/v1/imports?kind=orders&filename=orders.csv",
        content=CSV.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 202
    view = wait_until_finished(api, response.json()["id"])
    assert view["status"] == "done"
    progress = view["progress"]
    assert (progress["rows"], progress["imported"], progress["error_count"]) == (2, 1, 1)
    assert progress["errors"][0]["line"] == 3
    assert api.balances("c1")["available"] == 20


def test_a_column_mapping_is_checked(api: Api) -> None:
    response = api.client.post("/v1/imports?kind=orders&map=nonsense", content=b"x")
    assert_problem(response, 422, "validation_failed", "map")


def test_imports_need_the_admin_scope_and_stay_in_their_tenant(api: Api, make_api: Any) -> None:
    response = api.client.post(
        "/v1/imports?kind=orders", content=CSV.encode(), headers=bearer(api.key("read", "write"))
    )
    assert_problem(response, 403, "forbidden")
    started = api.client.post("/v1/imports?kind=orders", content=CSV.encode()).json()
    wait_until_finished(api, started["id"])
    other = make_api()
    assert_problem(other.client.get(f"/v1/imports/{started['id']}"), 404, "not_found", "id")
