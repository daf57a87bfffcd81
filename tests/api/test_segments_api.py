"""Segments over HTTP: every endpoint and its error cases."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from loyalty.store import tables
from tests.api.support import Api, assert_problem, bearer
from tests.builders import order_paid_json
from tests.conftest import NOW

CATS = 'member.favourite_category == "cats"'


def buy(api: Api, n: int, member: str, category: str, price: str = "40.00") -> None:
    body = order_paid_json(f"e{n}", member, f"o{n}", [("SKU", 1, price)], NOW - timedelta(days=n))
    body["data"]["lines"][0]["category"] = category
    assert api.event(body).status_code in (200, 201)


def shop_with_cat_people(api: Api) -> None:
    buy(api, 1, "alice", "cats")
    buy(api, 2, "bob", "dogs")
    buy(api, 3, "carol", "cats")
    assert api.client.post("/v1/analytics/profiles/refresh").status_code == 200


def create(api: Api, **body: Any) -> dict[str, Any]:
    response = api.client.post("/v1/segments", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def history_rows(api: Api) -> int:
    h = tables.segment_history
    with api.shop.db.read(api.shop.tenant_id) as uow:
        return int(
            uow.conn.execute(
                select(func.count()).select_from(h).where(h.c.tenant_id == api.shop.tenant_id)
            ).scalar_one()
        )


# --- POST /v1/segments ---------------------------------------------------------------------


def test_create_a_rule_segment_and_read_its_members(api: Api) -> None:
    shop_with_cat_people(api)
    body = create(api, id="cat-people", name="Cat people", kind="rule", rule=CATS)
    assert body["id"] == "cat-people" and body["members"] == 2 and body["builtin"] is False
    assert body["rule"] == CATS and body["kind"] == "rule"
    page = api.client.get("/v1/segments/cat-people/members").json()
    assert [m["external_id"] for m in page["items"]] == ["alice", "carol"]
    assert page["items"][0]["entered_at"] == NOW.isoformat()
    assert page["next"] is None


def test_the_id_defaults_to_a_slug_of_the_name(api: Api) -> None:
    assert create(api, name="Big Spenders!", kind="static")["id"] == "big_spenders"


def test_create_is_idempotent_with_a_key(api: Api) -> None:
    body = {"id": "vip", "name": "VIP", "kind": "static"}
    headers = {"Idempotency-Key": "seg-1"}
    first = api.client.post("/v1/segments", json=body, headers=headers)
    again = api.client.post("/v1/segments", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.client.post("/v1/segments", json={**body, "name": "V"}, headers=headers)
    assert_problem(other, 422, "idempotency_key_conflict")


def test_a_syntax_error_answers_422_with_line_and_column(api: Api) -> None:
    before = api.state()
    response = api.client.post(
        "/v1/segments",
        json={"name": "Broken", "kind": "rule", "rule": "member.orders >\n  (1 +"},
    )
    body = assert_problem(response, 422, "invalid_segment_rule", "rule")
    assert (body["line"], body["column"]) == (2, 7)
    assert api.state() == before
    assert api.client.get("/v1/segments/broken").status_code == 404


def test_an_unknown_field_answers_422_naming_it(api: Api) -> None:
    response = api.client.post(
        "/v1/segments", json={"name": "X", "kind": "rule", "rule": 'member.colour == "red"'}
    )
    body = assert_problem(response, 422, "unknown_segment_field", "rule")
    assert body["unknown"] == "member.colour"
    assert "member.colour" in body["detail"]


def test_create_validation_errors(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "X", "kind": "smart"}, "kind"),
        ({"kind": "static"}, "name"),
        ({"name": "X", "kind": "rule"}, "rule"),
        ({"name": "X", "kind": "static", "rule": "member.orders > 1"}, "rule"),
        ({"id": "Not OK", "name": "X", "kind": "static"}, "id"),
        ({"id": "rfm:champions", "name": "X", "kind": "static"}, "id"),
        ({"name": "X", "kind": "static", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        assert_problem(api.client.post("/v1/segments", json=body), 422, "validation_failed", field)
    response = api.client.post("/v1/segments", json={"name": "X", "kind": "rule", "rule": "1"})
    assert_problem(response, 422, "invalid_segment_rule", "rule")


def test_a_taken_id_answers_409(api: Api) -> None:
    create(api, id="vip", name="VIP", kind="static")
    response = api.client.post("/v1/segments", json={"id": "vip", "name": "V2", "kind": "static"})
    assert_problem(response, 409, "segment_exists", "id")


def test_auth_and_scopes(api: Api) -> None:
    body = {"name": "VIP", "kind": "static"}
    anonymous = api.client.post("/v1/segments", json=body, headers={"Authorization": ""})
    assert_problem(anonymous, 401, "unauthenticated")
    reader = bearer(api.key("read"))
    assert_problem(api.client.post("/v1/segments", json=body, headers=reader), 403, "forbidden")
    assert api.client.get("/v1/segments", headers=reader).status_code == 200
    writer = bearer(api.key("read", "write"))
    assert_problem(api.client.post("/v1/segments/refresh", headers=writer), 403, "forbidden")


# --- GET /v1/segments, GET /v1/segments/{id} ----------------------------------------------


def test_list_has_stored_then_builtin_segments(api: Api) -> None:
    shop_with_cat_people(api)
    create(api, id="cat-people", name="Cat people", kind="rule", rule=CATS)
    items = api.client.get("/v1/segments").json()["items"]
    assert items[0]["id"] == "cat-people"
    ids = {item["id"] for item in items}
    assert {"rfm:champions", "rfm:at_risk", "rfm:cant_lose", "lifecycle:at_risk"} <= ids
    builtin_members = sum(i["members"] for i in items if i["id"].startswith("lifecycle:"))
    assert builtin_members == 3


def test_get_one_segment(api: Api) -> None:
    create(api, id="vip", name="VIP", kind="static", description="hand-picked")
    body = api.client.get("/v1/segments/vip").json()
    assert (body["name"], body["description"], body["members"]) == ("VIP", "hand-picked", 0)
    builtin = api.client.get("/v1/segments/rfm:at_risk").json()
    assert (builtin["name"], builtin["kind"], builtin["builtin"]) == ("At Risk", "rfm", True)
    assert_problem(api.client.get("/v1/segments/nope"), 404, "segment_not_found", "id")


# --- PATCH /v1/segments/{id} --------------------------------------------------------------


def test_patch_renames_and_a_new_rule_rematerialises(api: Api) -> None:
    shop_with_cat_people(api)
    create(api, id="pets", name="Cat people", kind="rule", rule=CATS)
    response = api.client.patch(
        "/v1/segments/pets",
        json={"name": "Dog people", "rule": 'member.favourite_category == "dogs"'},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["members"]) == ("Dog people", 1)
    members = api.client.get("/v1/segments/pets/members").json()["items"]
    assert [m["external_id"] for m in members] == ["bob"]
    assert history_rows(api) == 5 + 6  # 2 in, then 2 out and 1 in; plus 6 built-in entries


def test_patch_errors(api: Api) -> None:
    create(api, id="vip", name="VIP", kind="static")
    create(api, id="rich", name="Rich", kind="rule", rule="member.spend > 100")
    assert_problem(
        api.client.patch("/v1/segments/nope", json={"name": "N"}), 404, "segment_not_found"
    )
    assert_problem(
        api.client.patch("/v1/segments/rfm:lost", json={"name": "N"}), 409, "segment_read_only"
    )
    assert_problem(
        api.client.patch("/v1/segments/vip", json={"rule": "member.orders > 1"}),
        422,
        "validation_failed",
        "rule",
    )
    assert_problem(
        api.client.patch("/v1/segments/rich", json={"rule": "member.spend >"}),
        422,
        "invalid_segment_rule",
        "rule",
    )
    assert_problem(
        api.client.patch("/v1/segments/rich", json={"name": ""}), 422, "validation_failed", "name"
    )
    assert api.client.get("/v1/segments/rich").json()["rule"] == "member.spend > 100"


# --- DELETE /v1/segments/{id} -------------------------------------------------------------


def test_delete(api: Api) -> None:
    create(api, id="vip", name="VIP", kind="static")
    assert api.client.delete("/v1/segments/vip").status_code == 204
    assert_problem(api.client.get("/v1/segments/vip"), 404, "segment_not_found")
    assert_problem(api.client.delete("/v1/segments/vip"), 404, "segment_not_found")
    assert_problem(api.client.delete("/v1/segments/lifecycle:new"), 409, "segment_read_only")
    reader = bearer(api.key("read"))
    assert_problem(api.client.delete("/v1/segments/x", headers=reader), 403, "forbidden")


# --- GET /v1/segments/{id}/members --------------------------------------------------------


def test_members_are_paged_with_a_cursor(api: Api) -> None:
    shop_with_cat_people(api)
    create(api, id="cat-people", name="Cat people", kind="rule", rule=CATS)
    first = api.client.get("/v1/segments/cat-people/members?limit=1").json()
    assert [m["external_id"] for m in first["items"]] == ["alice"]
    second = api.client.get(f"/v1/segments/cat-people/members?limit=1&after={first['next']}")
    assert [m["external_id"] for m in second.json()["items"]] == ["carol"]
    assert second.json()["next"] is None


def test_members_as_csv(api: Api) -> None:
    shop_with_cat_people(api)
    create(api, id="cat-people", name="Cat people", kind="rule", rule=CATS)
    response = api.client.get("/v1/segments/cat-people/members?format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "segment-cat-people.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["external_id"] for r in rows] == ["alice", "carol"]
    assert rows[0]["entered_at"] == NOW.isoformat() and rows[0]["status"] == "active"
    lost = api.client.get("/v1/segments/lifecycle:lapsed/members?format=csv")
    assert lost.text.splitlines() == ["external_id,email,first_name,last_name,status,entered_at"]


def test_members_errors(api: Api) -> None:
    assert_problem(api.client.get("/v1/segments/nope/members"), 404, "segment_not_found")
    assert_problem(api.client.get("/v1/segments/nope/members?format=csv"), 404, "segment_not_found")
    assert_problem(
        api.client.get("/v1/segments/rfm:lost/members?after=zzz"), 400, "invalid_cursor", "after"
    )
    assert_problem(
        api.client.get("/v1/segments/rfm:lost/members?limit=501"), 422, "validation_failed", "limit"
    )
    assert_problem(
        api.client.get("/v1/segments/rfm:lost/members?format=xml"),
        422,
        "validation_failed",
        "format",
    )


# --- POST/DELETE /v1/segments/{id}/members ------------------------------------------------


def test_static_members_are_added_and_removed(api: Api) -> None:
    for name in ("ann", "ben"):
        assert api.client.post("/v1/members", json={"external_id": name}).status_code == 201
    create(api, id="vip", name="VIP", kind="static")
    added = api.client.post("/v1/segments/vip/members", json={"members": ["ann", "ben"]})
    assert added.json() == {"id": "vip", "added": 2, "removed": 0, "members": 2}
    again = api.client.post("/v1/segments/vip/members", json={"members": ["ann"]})
    assert again.json()["added"] == 0
    removed = api.client.request("DELETE", "/v1/segments/vip/members", json={"members": ["ann"]})
    assert removed.json() == {"id": "vip", "added": 0, "removed": 1, "members": 1}
    assert api.client.get("/v1/members/ben/segments").json()["segments"][0]["id"] == "vip"
    assert api.client.get("/v1/members/ann/segments").json() == {"member": "ann", "segments": []}


def test_member_list_errors(api: Api) -> None:
    assert api.client.post("/v1/members", json={"external_id": "ann"}).status_code == 201
    create(api, id="vip", name="VIP", kind="static")
    create(api, id="rich", name="Rich", kind="rule", rule="member.spend > 100")
    before = history_rows(api)
    unknown = api.client.post("/v1/segments/vip/members", json={"members": ["ann", "ghost"]})
    body = assert_problem(unknown, 404, "member_not_found", "members")
    assert "ghost" in body["detail"]
    assert history_rows(api) == before  # ann was not added either
    assert_problem(
        api.client.post("/v1/segments/rich/members", json={"members": ["ann"]}),
        409,
        "segment_read_only",
    )
    assert_problem(
        api.client.post("/v1/segments/rfm:lost/members", json={"members": ["ann"]}),
        409,
        "segment_read_only",
    )
    assert_problem(
        api.client.post("/v1/segments/nope/members", json={"members": ["ann"]}),
        404,
        "segment_not_found",
    )
    assert_problem(
        api.client.post("/v1/segments/vip/members", json={"members": []}),
        422,
        "validation_failed",
        "members",
    )
    assert_problem(
        api.client.request("DELETE", "/v1/segments/vip/members"), 422, "validation_failed"
    )


# --- refresh ------------------------------------------------------------------------------


def test_refresh_one_and_all(api: Api) -> None:
    shop_with_cat_people(api)
    create(api, id="cat-people", name="Cat people", kind="rule", rule=CATS)
    one = api.client.post("/v1/segments/cat-people/refresh")
    assert one.json() == {"id": "cat-people", "entered": 0, "left": 0, "members": 2, "undecided": 0}
    buy(api, 4, "dave", "cats")
    api.client.post("/v1/analytics/profiles/refresh")  # moves dave in, as a side effect
    everything = api.client.post("/v1/segments/refresh").json()["items"]
    assert {r["id"] for r in everything} >= {"cat-people", "rfm:champions", "lifecycle:new"}
    assert all((r["entered"], r["left"]) == (0, 0) for r in everything)
    assert api.client.get("/v1/segments/cat-people").json()["members"] == 3
    assert_problem(api.client.post("/v1/segments/nope/refresh"), 404, "segment_not_found")


def test_member_segments(api: Api) -> None:
    shop_with_cat_people(api)
    create(api, id="cat-people", name="Cat people", kind="rule", rule=CATS)
    body = api.client.get("/v1/members/alice/segments").json()
    ids = [s["id"] for s in body["segments"]]
    assert "cat-people" in ids
    assert any(i.startswith("rfm:") for i in ids) and any(i.startswith("lifecycle:") for i in ids)
    names = {s["id"]: s["name"] for s in body["segments"]}
    assert names["cat-people"] == "Cat people"
    assert_problem(api.client.get("/v1/members/ghost/segments"), 404, "member_not_found")


def test_csv_cells_that_look_like_formulas_are_quoted(api: Api) -> None:
    member = {"external_id": "eve", "first_name": "=HYPERLINK(1)", "last_name": "@x"}
    assert api.client.post("/v1/members", json=member).status_code == 201
    create(api, id="vip", name="VIP", kind="static")
    api.client.post("/v1/segments/vip/members", json={"members": ["eve"]})
    rows = list(
        csv.DictReader(io.StringIO(api.client.get("/v1/segments/vip/members?format=csv").text))
    )
    assert (rows[0]["first_name"], rows[0]["last_name"]) == ("'=HYPERLINK(1)", "'@x")


def test_segments_belong_to_one_shop(make_api: Any) -> None:
    mine, theirs = make_api(pending_days=0), make_api(pending_days=0)
    assert mine.client.post("/v1/members", json={"external_id": "ann"}).status_code == 201
    assert theirs.client.post("/v1/members", json={"external_id": "ann"}).status_code == 201
    create(mine, id="vip", name="VIP", kind="static")
    mine.client.post("/v1/segments/vip/members", json={"members": ["ann"]})
    assert_problem(theirs.client.get("/v1/segments/vip"), 404, "segment_not_found")
    assert theirs.client.get("/v1/members/ann/segments").json()["segments"] == []
    assert create(theirs, id="vip", name="Their VIP", kind="static")["members"] == 0


# --- GET /v1/segments/{id}/history --------------------------------------------------------


def test_history_lists_entries_and_exits_in_order(api: Api) -> None:
    shop_with_cat_people(api)
    create(api, id="pets", name="Pets", kind="rule", rule=CATS)
    api.client.patch("/v1/segments/pets", json={"rule": 'member.favourite_category == "dogs"'})
    body = api.client.get("/v1/segments/pets/history").json()
    changes = [(i["member"], i["change"]) for i in body["items"]]
    assert changes == [
        ("alice", "entered"),
        ("carol", "entered"),
        ("bob", "entered"),
        ("alice", "left"),
        ("carol", "left"),
    ]
    assert body["items"][0]["at"] == NOW.isoformat() and body["next"] is None
    first = api.client.get("/v1/segments/pets/history?limit=2").json()
    rest = api.client.get(f"/v1/segments/pets/history?after={first['next']}").json()
    assert [i["member"] for i in first["items"] + rest["items"]] == [m for m, _ in changes]
    assert_problem(api.client.get("/v1/segments/nope/history"), 404, "segment_not_found")
    assert_problem(
        api.client.get("/v1/segments/pets/history?after=%%%"), 400, "invalid_cursor", "after"
    )
