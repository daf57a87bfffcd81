"""Surveys over HTTP: create, answer, results (NPS checked by hand), and every error case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from loyalty.store import tables
from tests.api.support import Api, assert_problem, bearer
from tests.builders import order_paid_json
from tests.conftest import NOW


def survey(api: Api, **body: Any) -> dict[str, Any]:
    response = api.client.post("/v1/surveys", json={"question": "Would you recommend us?", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def members(api: Api, *names: str) -> None:
    for name in names:
        assert api.client.post("/v1/members", json={"external_id": name}).status_code == 201


def respond(api: Api, survey_id: int, **body: Any) -> Any:
    return api.client.post(f"/v1/surveys/{survey_id}/responses", json=body)


def answered_events(api: Api) -> list[dict[str, Any]]:
    o = tables.outbox_events
    with api.shop.db.read(api.shop.tenant_id) as uow:
        return [
            payload
            for (payload,) in uow.conn.execute(
                select(o.c.payload)
                .where(o.c.tenant_id == api.shop.tenant_id, o.c.type == "survey.answered")
                .order_by(o.c.id)
            )
        ]


# --- POST/GET/PATCH /v1/surveys -----------------------------------------------------------


def test_create_list_get_and_switch_off(api: Api) -> None:
    nps = survey(api, kind="nps")
    assert (nps["min_score"], nps["max_score"], nps["active"], nps["trigger"]) == (
        0,
        10,
        True,
        None,
    )
    csat = survey(api, kind="csat", trigger="order", delay_days=3, question="How was it?")
    assert (csat["min_score"], csat["max_score"], csat["trigger"]) == (1, 5, "order")
    assert (csat["delay_days"], nps["delay_days"]) == (3, None)
    custom = survey(api, kind="custom", min_score=1, max_score=7, active=False)
    assert (custom["min_score"], custom["max_score"]) == (1, 7)
    items = api.client.get("/v1/surveys").json()["items"]
    assert [s["id"] for s in items] == [nps["id"], csat["id"], custom["id"]]
    active = api.client.get("/v1/surveys?active=true").json()["items"]
    assert [s["id"] for s in active] == [nps["id"], csat["id"]]
    assert api.client.get(f"/v1/surveys/{nps['id']}").json() == nps
    patched = api.client.patch(f"/v1/surveys/{nps['id']}", json={"active": False, "question": "Q?"})
    assert (patched.json()["active"], patched.json()["question"]) == (False, "Q?")


def test_survey_errors(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "stars"}, "kind"),
        ({"kind": "nps", "question": ""}, "question"),
        ({"kind": "nps", "min_score": 1}, "min_score"),
        ({"kind": "custom", "min_score": 5, "max_score": 5}, "min_score"),
        ({"kind": "custom", "min_score": 1}, "min_score"),
        ({"kind": "nps", "trigger": "signup"}, "trigger"),
        ({"kind": "nps", "delay_days": 3}, "delay_days"),
        ({"kind": "nps", "trigger": "order", "delay_days": -1}, "delay_days"),
    ]
    for body, field in cases:
        response = api.client.post("/v1/surveys", json={"question": "Q", **body})
        assert_problem(response, 422, "validation_failed", field)
    assert api.client.get("/v1/surveys").json()["items"] == []  # nothing was stored
    assert_problem(api.client.get("/v1/surveys/99999"), 404, "survey_not_found", "id")
    assert_problem(
        api.client.patch("/v1/surveys/99999", json={"active": False}), 404, "survey_not_found"
    )
    assert_problem(api.client.get("/v1/surveys/abc"), 422, "validation_failed", "survey_id")
    sid = survey(api, kind="nps")["id"]
    empty = api.client.patch(f"/v1/surveys/{sid}", json={"question": ""})
    assert_problem(empty, 422, "validation_failed", "question")
    assert_problem(
        api.client.patch(f"/v1/surveys/{sid}", json={"kind": "csat"}),
        422,
        "validation_failed",
        "kind",
    )
    reader = bearer(api.key("read"))
    response = api.client.post("/v1/surveys", json={"kind": "nps", "question": "Q"}, headers=reader)
    assert_problem(response, 403, "forbidden")
    assert_problem(
        api.client.get("/v1/surveys", headers={"Authorization": ""}), 401, "unauthenticated"
    )


# --- POST /v1/surveys/{id}/responses ------------------------------------------------------


def test_a_response_is_stored_once_and_announced(api: Api) -> None:
    members(api, "alice")
    nps = survey(api, kind="nps")
    body = {"id": "r1", "member": "alice", "score": 9, "comment": "Great"}
    first = respond(api, nps["id"], **body)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "id": "r1",
        "survey": nps["id"],
        "member": "alice",
        "score": 9,
        "comment": "Great",
        "order_id": None,
        "answered_at": NOW.isoformat(),
        "category": "promoter",
    }
    again = respond(api, nps["id"], **body)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    events = answered_events(api)
    assert len(events) == 1
    assert (events[0]["member"], events[0]["score"], events[0]["kind"]) == ("alice", 9, "nps")


def test_response_errors(api: Api) -> None:
    members(api, "alice")
    nps = survey(api, kind="nps")
    sid = nps["id"]
    assert respond(api, sid, id="r1", member="alice", score=7).status_code == 201
    conflict = respond(api, sid, id="r1", member="alice", score=8)
    assert_problem(conflict, 409, "response_conflict", "id")
    twice = respond(api, sid, id="r2", member="alice", score=8)
    assert_problem(twice, 409, "already_answered", "member")
    high = respond(api, sid, id="r3", member="alice", score=11)
    assert_problem(high, 422, "score_out_of_range", "score")
    assert_problem(
        respond(api, sid, id="r4", member="ghost", score=5), 404, "member_not_found", "member"
    )
    assert_problem(respond(api, 99999, id="r5", member="alice", score=5), 404, "survey_not_found")
    assert_problem(respond(api, sid, id="r6", member="alice"), 422, "validation_failed", "score")
    assert_problem(
        respond(api, sid, id="r7", member="alice", score=5, answered_at="2026-01-01T10:00:00"),
        422,
        "validation_failed",
        "answered_at",
    )
    api.client.patch(f"/v1/surveys/{sid}", json={"active": False})
    members(api, "bob")
    assert_problem(respond(api, sid, id="r8", member="bob", score=5), 409, "survey_inactive")
    reader = bearer(api.key("read"))
    response = api.client.post(
        f"/v1/surveys/{sid}/responses",
        json={"id": "r9", "member": "bob", "score": 1},
        headers=reader,
    )
    assert_problem(response, 403, "forbidden")
    assert len(answered_events(api)) == 1


def test_csat_and_custom_scales(api: Api) -> None:
    members(api, "alice")
    csat = survey(api, kind="csat")
    assert_problem(
        respond(api, csat["id"], id="c0", member="alice", score=0), 422, "score_out_of_range"
    )
    assert respond(api, csat["id"], id="c1", member="alice", score=5).status_code == 201
    custom = survey(api, kind="custom", min_score=-2, max_score=2)
    assert respond(api, custom["id"], id="x1", member="alice", score=-2).status_code == 201


def test_a_post_purchase_survey_takes_one_answer_per_order(api: Api) -> None:
    for n, who in ((1, "alice"), (2, "alice"), (3, "bob")):
        api.event(
            order_paid_json(f"e{n}", who, f"o{n}", [("A", 1, "10.00")], NOW - timedelta(days=n))
        )
    csat = survey(api, kind="csat", trigger="order")
    sid = csat["id"]
    missing = respond(api, sid, id="a0", member="alice", score=4)
    assert_problem(missing, 422, "validation_failed", "order_id")
    others = respond(api, sid, id="a1", member="alice", score=4, order_id="o3")
    assert_problem(others, 422, "unknown_order", "order_id")
    nothing = respond(api, sid, id="a2", member="alice", score=4, order_id="o404")
    assert_problem(nothing, 422, "unknown_order", "order_id")
    assert respond(api, sid, id="a3", member="alice", score=4, order_id="o1").status_code == 201
    assert respond(api, sid, id="a4", member="alice", score=2, order_id="o2").status_code == 201
    again = respond(api, sid, id="a5", member="alice", score=5, order_id="o1")
    body = assert_problem(again, 409, "already_answered")
    assert "o1" in body["detail"]
    assert [e["order_id"] for e in answered_events(api)] == ["o1", "o2"]


# --- GET /v1/surveys/{id}/results ---------------------------------------------------------

# Answers of a hand-checked fixture: (member, score, answered at, UTC). The shop is in Warsaw,
# so m10's answer at 23:30 UTC on 31 January is on 1 February there.
ANSWERS = [
    ("m1", 10, "2026-01-10T10:00:00Z"),
    ("m2", 9, "2026-01-10T10:00:00Z"),
    ("m3", 8, "2026-01-12T10:00:00Z"),
    ("m4", 3, "2026-01-20T10:00:00Z"),
    ("m5", 0, "2026-01-25T10:00:00Z"),
    ("m6", 10, "2026-02-15T10:00:00Z"),
    ("m7", 10, "2026-02-15T10:00:00Z"),
    ("m8", 7, "2026-02-16T10:00:00Z"),
    ("m9", 6, "2026-02-17T10:00:00Z"),
    ("m10", 9, "2026-01-31T23:30:00Z"),
]


def nps_fixture(api: Api) -> int:
    members(api, *(m for m, _, _ in ANSWERS))
    sid: int = survey(api, kind="nps")["id"]
    for member, score, at in ANSWERS:
        response = respond(api, sid, id=f"r-{member}", member=member, score=score, answered_at=at)
        assert response.status_code == 201, response.text
    panel = {"id": "panel", "name": "Panel", "kind": "static"}
    assert api.client.post("/v1/segments", json=panel).status_code == 201
    added = api.client.post(
        "/v1/segments/panel/members", json={"members": ["m1", "m4", "m6", "m10"]}
    )
    assert added.status_code == 200
    return sid


def test_nps_per_month_matches_the_hand_computation(api: Api) -> None:
    sid = nps_fixture(api)
    body = api.client.get(
        f"/v1/surveys/{sid}/results?from=2026-01-01&to=2026-03-31&granularity=month"
    ).json()
    # January: 10, 9, 8, 3, 0 -> 2 promoters, 1 passive, 2 detractors: 40% - 40% = 0
    # February: 9 (m10, local day), 10, 10, 7, 6 -> 3, 1, 1: 60% - 20% = 40
    # All ten: 5 promoters, 2 passives, 3 detractors: 50% - 30% = 20; average 72 / 10
    assert body["overall"] == {
        "responses": 10,
        "average": 7.2,
        "promoters": 5,
        "passives": 2,
        "detractors": 3,
        "nps": 20.0,
    }
    periods = {p["period"]: p for p in body["periods"]}
    assert list(periods) == ["2026-01", "2026-02", "2026-03"]
    assert (periods["2026-01"]["responses"], periods["2026-01"]["nps"]) == (5, 0.0)
    assert periods["2026-01"]["average"] == 6.0
    assert (periods["2026-02"]["responses"], periods["2026-02"]["nps"]) == (5, 40.0)
    assert periods["2026-02"]["average"] == 8.4
    assert (periods["2026-03"]["responses"], periods["2026-03"]["nps"]) == (0, None)


def test_nps_for_a_segment_and_a_shorter_range(api: Api) -> None:
    sid = nps_fixture(api)
    body = api.client.get(f"/v1/surveys/{sid}/results?segment=panel").json()
    # panel: m1 10 and m4 3 in January (0), m10 9 and m6 10 in February (100); all: 75 - 25
    assert body["segment"] == "panel"
    assert (body["overall"]["responses"], body["overall"]["nps"]) == (4, 50.0)
    assert [(p["period"], p["nps"]) for p in body["periods"]] == [
        ("2026-01", 0.0),
        ("2026-02", 100.0),
    ]
    january = api.client.get(f"/v1/surveys/{sid}/results?to=2026-01-31").json()
    assert (january["overall"]["responses"], january["overall"]["nps"]) == (5, 0.0)  # no m10
    assert january["overall"]["promoters"] == 2 and january["overall"]["detractors"] == 2
    weekly = api.client.get(
        f"/v1/surveys/{sid}/results?from=2026-02-09&to=2026-02-22&granularity=week"
    ).json()
    # 15 February 2026 is a Sunday: m6 and m7 close week 7, m8 and m9 open week 8
    assert [(p["period"], p["responses"]) for p in weekly["periods"]] == [
        ("2026-W07", 2),
        ("2026-W08", 2),
    ]


def test_csat_results(api: Api) -> None:
    members(api, "a", "b", "c", "d")
    sid = survey(api, kind="csat")["id"]
    for member, score in (("a", 5), ("b", 4), ("c", 2), ("d", 3)):
        respond(api, sid, id=member, member=member, score=score)
    overall = api.client.get(f"/v1/surveys/{sid}/results").json()["overall"]
    assert overall == {"responses": 4, "average": 3.5, "satisfied": 2, "csat": 50.0}


def test_results_errors(api: Api) -> None:
    sid = survey(api, kind="nps")["id"]
    url = f"/v1/surveys/{sid}/results"
    assert_problem(
        api.client.get(f"{url}?from=2026-02-01&to=2026-01-01"), 422, "validation_failed", "to"
    )
    assert_problem(
        api.client.get(f"{url}?granularity=hour"), 422, "validation_failed", "granularity"
    )
    assert_problem(api.client.get(f"{url}?from=yesterday"), 422, "validation_failed", "from")
    assert_problem(api.client.get(f"{url}?segment=nope"), 404, "segment_not_found")
    assert_problem(
        api.client.get(f"{url}?from=2000-01-01&to=2026-01-01&granularity=day"),
        422,
        "validation_failed",
        "granularity",
    )
    assert_problem(api.client.get("/v1/surveys/99999/results"), 404, "survey_not_found")
    empty = api.client.get(url).json()
    assert empty["overall"]["responses"] == 0 and empty["periods"] == []


def test_an_answer_earns_through_the_rules_once(api: Api) -> None:
    # given a rule giving promoters 50 points for answering an NPS survey
    members(api, "alice", "bob")
    rule = {
        "name": "promoters",
        "trigger": "survey.answered",
        "condition": 'event.data.kind == "nps" && event.data.category == "promoter"',
        "effect": {"kind": "fixed_points", "points": 50},
    }
    assert api.client.post("/v1/rules", json=rule).status_code == 201
    nps = survey(api, kind="nps")
    # when alice (a promoter) answers, retries, and bob (a detractor) answers
    for _ in range(2):
        respond(api, nps["id"], id="r1", member="alice", score=10)
    respond(api, nps["id"], id="r2", member="bob", score=3)
    # then alice earned once and bob nothing
    assert api.balances("alice")["lifetime_earned"] == 50
    assert api.balances("bob")["lifetime_earned"] == 0
