"""HTTP tests: the events inbox, POST /v1/events and POST /v1/events/batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.api.support import Api, assert_problem
from tests.builders import cancel_json, order_paid_json, refund_json
from tests.conftest import NOW


def paid(
    event_id: str = "e1",
    member: str = "m1",
    order: str = "o1",
    lines: list[tuple[str, int, str]] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    return order_paid_json(event_id, member, order, lines or [("a", 2, "25.50")], NOW, **kwargs)


def with_data(event: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {**event, "data": {**event["data"], **data}}


def with_line(event: dict[str, Any], **line: Any) -> dict[str, Any]:
    return with_data(event, lines=[{**event["data"]["lines"][0], **line}])


# --- order.paid -------------------------------------------------------------------------------


def test_a_paid_order_earns_points_and_creates_the_member(api: Api) -> None:
    # when
    response = api.event(
        paid(lines=[("a", 2, "25.50"), ("b", 1, "9.99")], shipping="12", email="Ann@Example.com")
    )
    # then 60.99 (shipping excluded) -> 60 points, available at once
    assert response.status_code == 200, response.text
    assert "idempotent-replayed" not in response.headers
    body = response.json()
    assert (body["event_id"], body["type"], body["status"], body["member"]) == (
        "e1",
        "order.paid",
        "processed",
        "m1",
    )
    assert [(e["kind"], e["points"]) for e in body["effects"]] == [("earn", 60)]
    assert "order o1" in body["effects"][0]["reason"]
    assert body["balances"] == {"available": 60, "pending": 0, "lifetime_earned": 60}
    member = api.member("m1")
    assert member["email"] == "ann@example.com"
    assert member["balances"]["available"] == 60
    api.assert_ledger_clean()


def test_points_stay_pending_during_the_return_window(make_api: Callable[..., Api]) -> None:
    api = make_api(pending_days=14)
    response = api.event(paid(lines=[("a", 1, "100")]))
    assert response.status_code == 200, response.text
    effect = response.json()["effects"][0]
    assert (effect["available_delta"], effect["pending_delta"]) == (0, 100)
    assert effect["lot"]["available_at"] == (NOW + timedelta(days=14)).isoformat()
    assert api.balances("m1")["pending"] == 100


def test_a_replayed_event_returns_the_first_response_and_changes_nothing(api: Api) -> None:
    # given
    first = api.event(paid())
    assert first.status_code == 200, first.text
    before = api.state()
    # when the same event is sent again
    again = api.event(paid())
    # then
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert api.state() == before
    assert len(api.ledger("m1")) == 1


def test_the_same_event_id_with_another_body_is_a_conflict(api: Api) -> None:
    # given
    assert api.event(paid(lines=[("a", 1, "100")])).status_code == 200
    before = api.state()
    # when
    response = api.event(paid(lines=[("a", 1, "999")]))
    # then
    assert_problem(response, 409, "event_conflict", "id")
    assert api.state() == before
    assert api.balances("m1")["available"] == 100


def test_the_same_order_under_a_new_event_id_earns_nothing_more(api: Api) -> None:
    assert api.event(paid("e1", lines=[("a", 1, "100")])).status_code == 200
    response = api.event(paid("e2", lines=[("a", 1, "100")]))
    assert response.status_code == 200, response.text
    assert response.json()["effects"] == []
    assert "already recorded" in response.json()["note"]
    assert api.balances("m1")["available"] == 100


def test_malformed_json_is_a_400_and_records_nothing(api: Api) -> None:
    before = api.state()
    response = api.client.post(
        "/v1/events", content=b'{"id": "e1", "type": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json", "body")
    assert api.state() == before


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({**paid(), "id": 17}, "id"),
        ({**paid(), "id": ""}, "id"),
        ({**paid(), "occurred_at": "yesterday"}, "occurred_at"),
        ({**paid(), "member": "m1"}, "member"),
        ({**paid(), "member": {"external_id": ["m1"]}}, "member.external_id"),
        ({key: v for key, v in paid().items() if key != "member"}, "member"),
        ({key: v for key, v in paid().items() if key != "data"}, "data"),
        (with_data(paid(), lines=[]), "data.lines"),
        (with_data(paid(), lines="a,b"), "data.lines"),
        (with_data(paid(), shipping="free"), "data.shipping"),
        (with_data(paid(), shipping="-1"), "data.shipping"),
        (with_line(paid(), quantity="two"), "data.lines.0.quantity"),
        (with_line(paid(), quantity=1.5), "data.lines.0.quantity"),
        (with_line(paid(), unit_price="cheap"), "data.lines.0.unit_price"),
        (with_line(paid(), unit_price="-5"), "data.lines.0.unit_price"),
        (with_line(paid(), unit_price="Infinity"), "data.lines.0.unit_price"),
        (with_line(paid(), sku=""), "data.lines.0.sku"),
        ({**paid(), "extra": True}, "extra"),
    ],
)
def test_events_with_wrong_types_are_rejected_and_record_nothing(
    api: Api, event: dict[str, Any], field: str
) -> None:
    before = api.state()
    response = api.event(event)
    assert_problem(response, 422, "validation_failed", field)
    assert api.state() == before


@pytest.mark.parametrize("quantity", [-1, 0])
def test_a_line_quantity_must_be_positive(api: Api, quantity: int) -> None:
    before = api.state()
    response = api.event(with_line(paid(), quantity=quantity))
    assert_problem(response, 422, "validation_failed", "data.lines.0.quantity")
    assert api.state() == before


def test_a_discount_larger_than_the_line_is_rejected(api: Api) -> None:
    before = api.state()
    response = api.event(with_line(paid(), discount="100"))
    assert_problem(response, 422, "validation_failed")
    assert api.state() == before


def test_naive_timestamps_are_rejected(api: Api) -> None:
    before = api.state()
    response = api.event({**paid(), "occurred_at": "2026-03-02T12:00:00"})
    body = assert_problem(response, 422, "validation_failed", "occurred_at")
    assert "time zone" in body["detail"]
    assert api.state() == before


def test_an_unknown_currency_is_rejected(api: Api) -> None:
    before = api.state()
    response = api.event(paid(currency="XYZ"))
    assert_problem(response, 422, "unknown_currency", "data.currency")
    assert api.state() == before


def test_an_order_in_another_currency_than_the_programme_is_rejected(api: Api) -> None:
    before = api.state()
    response = api.event(paid(currency="EUR"))
    assert_problem(response, 422, "currency_mismatch", "data.currency")
    # the member named by the failed event is not created either
    assert api.state() == before
    assert_problem(api.client.get("/v1/members/m1"), 404, "member_not_found")


def test_an_unknown_event_type_is_rejected(api: Api) -> None:
    before = api.state()
    response = api.event({**paid(), "type": "order.shipped"})
    assert_problem(response, 422, "unknown_event_type", "type")
    assert api.state() == before


def test_an_event_without_a_type_is_rejected(api: Api) -> None:
    event = {key: v for key, v in paid().items() if key != "type"}
    response = api.event(event)
    assert_problem(response, 422, "validation_failed", "type")


# --- customer events --------------------------------------------------------------------------


def test_customer_events_create_and_update_the_member(api: Api) -> None:
    created = api.event(
        {
            "id": "c1",
            "type": "customer.created",
            "occurred_at": NOW.isoformat(),
            "member": {"external_id": "m1", "email": "A@Example.com"},
            "data": {"first_name": "Ann", "consents": {"email": True}},
        }
    )
    assert created.status_code == 200, created.text
    assert created.json()["effects"] == []
    updated = api.event(
        {
            "id": "c2",
            "type": "customer.updated",
            "occurred_at": NOW.isoformat(),
            "member": {"external_id": "m1"},
            "data": {"last_name": "Smith"},
        }
    )
    assert updated.status_code == 200, updated.text
    member = api.member("m1")
    assert (member["email"], member["first_name"], member["last_name"]) == (
        "a@example.com",
        "Ann",
        "Smith",
    )
    assert member["consents"]["email"]["granted"] is True


def test_a_customer_event_with_a_bad_email_records_nothing(api: Api) -> None:
    before = api.state()
    response = api.event(
        {
            "id": "c1",
            "type": "customer.created",
            "occurred_at": NOW.isoformat(),
            "member": {"external_id": "m1"},
            "data": {"email": "not-an-email"},
        }
    )
    assert_problem(response, 422, "validation_failed", "email")
    assert api.state() == before


# --- refunds and cancellations ----------------------------------------------------------------


def test_a_partial_refund_reverses_its_share_and_is_listed_in_the_ledger(api: Api) -> None:
    # given 3 x 33.33 = 99.99 -> 99 points
    assert api.event(paid(lines=[("a", 3, "33.33")])).status_code == 200
    # when one unit is refunded
    response = api.event(refund_json("r1", "o1", "R1", NOW, lines=[("a", 1)]))
    # then
    assert response.status_code == 200, response.text
    assert [(e["kind"], e["points"]) for e in response.json()["effects"]] == [("reverse", -33)]
    assert response.json()["balances"]["available"] == 66
    newest = api.ledger("m1")[0]
    assert (newest["kind"], newest["refund_id"], newest["order_id"]) == ("reverse", "R1", "o1")
    assert "refund R1" in newest["reason"]
    api.assert_ledger_clean()


def test_a_refund_of_an_unknown_order_records_nothing_so_it_can_be_sent_again(api: Api) -> None:
    # given
    before = api.state()
    refund = refund_json("r1", "o1", "R1", NOW, amount="10")
    # when
    response = api.event(refund)
    # then
    assert_problem(response, 422, "unknown_order", "data.order_id")
    assert api.state() == before
    # and once the order is known the very same event is processed, not replayed
    assert api.event(paid(lines=[("a", 1, "100")])).status_code == 200
    retried = api.event(refund)
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["effects"][0]["points"] == -10


@pytest.mark.parametrize(
    ("refund", "field"),
    [
        ({"lines": [("a", 3)]}, "quantity"),
        ({"amount": "51.01"}, "amount"),
    ],
)
def test_a_refund_of_more_than_was_bought_is_rejected(
    api: Api, refund: dict[str, Any], field: str
) -> None:
    # given 2 x 25.50 bought
    assert api.event(paid()).status_code == 200
    before = api.state()
    # when
    response = api.event(refund_json("r1", "o1", "R1", NOW, **refund))
    # then
    assert_problem(response, 422, "refund_exceeds_order", field)
    assert api.state() == before
    assert api.balances("m1")["available"] == 51


def test_refunds_add_up_and_may_not_exceed_the_order(api: Api) -> None:
    assert api.event(paid()).status_code == 200
    assert api.event(refund_json("r1", "o1", "R1", NOW, lines=[("a", 1)])).status_code == 200
    before = api.state()
    response = api.event(refund_json("r2", "o1", "R2", NOW, lines=[("a", 2)]))
    assert_problem(response, 422, "refund_exceeds_order", "quantity")
    assert api.state() == before


@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({"lines": [("zzz", 1)]}, 422, "unknown_line", "sku"),
        ({"lines": [("a", 1)], "amount": "5"}, 422, "validation_failed", "data"),
        ({}, 422, "validation_failed", "data"),
        ({"amount": "0"}, 422, "validation_failed", "data.amount"),
    ],
)
def test_invalid_refunds_are_rejected(
    api: Api, data: dict[str, Any], status: int, code: str, field: str
) -> None:
    assert api.event(paid()).status_code == 200
    before = api.state()
    response = api.event(refund_json("r1", "o1", "R1", NOW, **data))
    assert_problem(response, status, code, field)
    assert api.state() == before


def test_a_refund_id_with_other_contents_is_a_conflict(api: Api) -> None:
    assert api.event(paid()).status_code == 200
    assert api.event(refund_json("r1", "o1", "R1", NOW, amount="5")).status_code == 200
    before = api.state()
    response = api.event(refund_json("r2", "o1", "R1", NOW, amount="6"))
    assert_problem(response, 409, "refund_conflict", "data.refund_id")
    assert api.state() == before


def test_a_cancellation_takes_back_what_the_order_earned(api: Api) -> None:
    assert api.event(paid()).status_code == 200
    response = api.event(cancel_json("c1", "o1", NOW))
    assert response.status_code == 200, response.text
    assert response.json()["effects"][0]["points"] == -51
    assert api.balances("m1")["available"] == 0
    api.assert_ledger_clean()


def test_cancelling_an_unknown_order_records_nothing(api: Api) -> None:
    before = api.state()
    response = api.event(cancel_json("c1", "nope", NOW))
    assert_problem(response, 422, "unknown_order", "data.order_id")
    assert api.state() == before


# --- POST /v1/events/batch --------------------------------------------------------------------


def test_a_batch_applies_the_valid_events_and_reports_each_invalid_one(api: Api) -> None:
    # given
    events = [
        paid("b1", "alice", "o1", [("a", 1, "10")]),
        {**paid("b2", "bob", "o2"), "type": "order.shipped"},
        paid("b3", "carol", "o3", [("a", 1, "30")]),
        paid("b4", "dave", "o4", currency="XYZ"),
        refund_json("b5", "o-unknown", "R1", NOW, amount="1"),
        paid("b6", "erin", "o6", currency="EUR"),
        with_line(paid("b7", "frank", "o7"), quantity=-1),
        refund_json("b8", "o1", "R1", NOW, amount="4"),
    ]
    # when
    response = api.client.post("/v1/events/batch", json={"events": events})
    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (3, 5)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(8))
    assert [r["status"] for r in results] == [200, 422, 200, 422, 422, 422, 422, 200]
    problems = {
        r["index"]: (r["problem"]["code"], r["problem"].get("field"))
        for r in results
        if r["status"] != 200
    }
    assert problems[1] == ("unknown_event_type", "type")
    assert problems[3] == ("unknown_currency", "data.currency")
    assert problems[4] == ("unknown_order", "data.order_id")
    assert problems[5] == ("currency_mismatch", "data.currency")
    assert problems[6] == ("validation_failed", "data.lines.0.quantity")
    assert results[0]["replayed"] is False
    assert results[0]["body"]["effects"][0]["points"] == 10
    # the valid events took effect, in order (the refund saw the order of the first event)
    assert api.balances("alice")["available"] == 6
    assert api.balances("carol")["available"] == 30
    # the invalid ones left nothing behind
    for name in ("bob", "dave", "erin", "frank"):
        assert_problem(api.client.get(f"/v1/members/{name}"), 404, "member_not_found")
    counts = api.state()["counts"]
    assert counts["inbox_events"] == 3
    assert counts["orders"] == 2
    api.assert_ledger_clean()


def test_a_replayed_batch_replays_each_event_without_second_effects(api: Api) -> None:
    # given
    events = [
        paid("b1", "alice", "o1", [("a", 1, "10")]),
        paid("b2", "bob", "o2", [("a", 1, "20")]),
        refund_json("b3", "o1", "R1", NOW, amount="5"),
    ]
    first = api.client.post("/v1/events/batch", json={"events": events}).json()
    assert first["accepted"] == 3
    before = api.state()
    # when
    again = api.client.post("/v1/events/batch", json={"events": events})
    # then
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["accepted"] == 3
    assert [r["replayed"] for r in body["results"]] == [True, True, True]
    assert [r["body"] for r in body["results"]] == [r["body"] for r in first["results"]]
    assert api.state() == before
    assert api.balances("alice")["available"] == 5
    assert api.balances("bob")["available"] == 20


def test_events_sent_alone_are_replayed_in_a_batch_and_vice_versa(api: Api) -> None:
    single = api.event(paid("e1", lines=[("a", 1, "10")]))
    batch = api.client.post(
        "/v1/events/batch", json={"events": [paid("e1", lines=[("a", 1, "10")])]}
    ).json()
    assert batch["results"][0]["replayed"] is True
    assert batch["results"][0]["body"] == single.json()
    assert api.balances("m1")["available"] == 10


def test_a_repeated_id_inside_one_batch_is_a_replay_or_a_conflict(api: Api) -> None:
    events = [
        paid("e1", lines=[("a", 1, "10")]),
        paid("e1", lines=[("a", 1, "10")]),
        paid("e1", lines=[("a", 1, "99")]),
    ]
    body = api.client.post("/v1/events/batch", json={"events": events}).json()
    assert [r["status"] for r in body["results"]] == [200, 200, 409]
    assert body["results"][1]["replayed"] is True
    assert body["results"][2]["problem"]["code"] == "event_conflict"
    assert api.balances("m1")["available"] == 10


def test_a_batch_of_more_than_1000_events_is_refused_whole(api: Api) -> None:
    before = api.state()
    events = [paid(f"e{i}", f"m{i}", f"o{i}") for i in range(1001)]
    response = api.client.post("/v1/events/batch", json={"events": events})
    assert_problem(response, 413, "batch_too_large", "events")
    assert api.state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": []}, "events"),
        ({"events": "e1"}, "events"),
        ({"events": ["e1"]}, "events.0"),
        ({}, "events"),
    ],
)
def test_a_batch_that_is_not_a_list_of_events_is_rejected(
    api: Api, body: dict[str, Any], field: str
) -> None:
    assert_problem(api.client.post("/v1/events/batch", json=body), 422, "validation_failed", field)


def test_a_batch_with_malformed_json_is_a_400(api: Api) -> None:
    response = api.client.post(
        "/v1/events/batch", content=b'{"events": [', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json", "body")
