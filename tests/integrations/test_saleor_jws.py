"""Saleor's detached JWS (RS256) checked against a JWKS served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loyalty.domain.events import InboundEvent, OrderPaid
from loyalty.integrations import saleor
from loyalty.integrations.errors import KeysUnavailable, SignatureInvalid
from loyalty.integrations.jws import JwksCache, http_fetch
from tests.integrations.jwks_server import (
    JwksServer,
    b64url,
    closed_port,
    jwk,
    jwks_server,
    new_key,
    sign,
)
from tests.integrations.support import SECRET, hex_hmac, raw

BODY = raw("saleor/order_fully_paid.json")


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def next_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def server(key: rsa.RSAPrivateKey) -> Iterator[JwksServer]:
    with jwks_server(jwk(key, "1")) as running:
        yield running


class Clock:
    """Monotonic seconds the test moves by hand (the cache's refetch spacing)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sent(signature: str, api_url: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Saleor-Event": "order_fully_paid",
        "Saleor-Domain": "127.0.0.1",
        "Saleor-Api-Url": api_url,
        "Saleor-Signature": signature,
    }


def verify(
    server: JwksServer, signature: str, body: bytes = BODY, *, keys: JwksCache | None = None
) -> None:
    saleor.verify(sent(signature, server.api_url), body, [], api_url=server.api_url, keys=keys)


def test_a_payload_signed_as_saleor_signs_it_verifies_and_maps(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    signature = sign(BODY, key)
    # the header Saleor sends: RS256, payload detached and not base64url-encoded
    header = json.loads(saleor_header(signature))
    assert header == {"alg": "RS256", "b64": False, "kid": "1", "typ": "JWT"}
    assert signature.split(".")[1] == ""
    keys = JwksCache()
    verify(server, signature, keys=keys)
    verify(server, signature, keys=keys)  # the keys are cached: fetched once
    assert server.requests == ["/.well-known/jwks.json"]
    (event,) = saleor.to_events(sent(signature, server.api_url), BODY, guest_matching=False).events
    assert isinstance(event, InboundEvent) and isinstance(event.payload, OrderPaid)


def saleor_header(signature: str) -> bytes:
    encoded = signature.split(".")[0]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def test_a_tampered_body_is_refused(server: JwksServer, key: rsa.RSAPrivateKey) -> None:
    signature = sign(BODY, key)
    tampered = BODY.replace(b'"quantity": 2', b'"quantity": 20')
    assert tampered != BODY
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify(server, signature, tampered)


def test_a_signature_by_another_key_with_the_same_kid_is_refused(
    server: JwksServer, next_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify(server, sign(BODY, next_key, kid="1"))


def test_an_unknown_kid_refetches_once_and_finds_the_rotated_key(
    server: JwksServer, key: rsa.RSAPrivateKey, next_key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    keys = JwksCache(refetch_after=10.0, clock=clock)
    verify(server, sign(BODY, key), keys=keys)
    assert len(server.requests) == 1
    # Saleor rotates its key: the JWKS now lists only kid 2
    server.keys = [jwk(next_key, "2")]
    clock.now += 30
    verify(server, sign(BODY, next_key, kid="2"), keys=keys)
    assert len(server.requests) == 2  # one re-fetch for the unknown kid
    # the retired key is gone from the fresh JWKS: its signatures no longer pass
    clock.now += 30
    with pytest.raises(SignatureInvalid, match="no RS256 signing key '1'"):
        verify(server, sign(BODY, key, kid="1"), keys=keys)


def test_made_up_kids_do_not_refetch_more_often_than_the_spacing(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    keys = JwksCache(refetch_after=10.0, clock=clock)
    verify(server, sign(BODY, key), keys=keys)
    for kid in ("x1", "x2", "x3"):
        with pytest.raises(SignatureInvalid, match=f"'{kid}'"):
            verify(server, sign(BODY, key, kid=kid), keys=keys)
    assert len(server.requests) == 1  # within 10 s of the last fetch: no new request
    clock.now += 11
    with pytest.raises(SignatureInvalid):
        verify(server, sign(BODY, key, kid="x4"), keys=keys)
    assert len(server.requests) == 2


@pytest.mark.parametrize("alg", ["HS256", "none", "RS512", "PS256"])
def test_any_algorithm_but_rs256_is_refused(
    server: JwksServer, key: rsa.RSAPrivateKey, alg: str
) -> None:
    header = {"alg": alg, "b64": False, "kid": "1", "typ": "JWT"}
    encoded = b64url(json.dumps(header).encode())
    # the classic confusion: an HMAC keyed with the public key the verifier holds
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(public_pem, encoded.encode() + b"." + BODY, hashlib.sha256).digest()
    with pytest.raises(SignatureInvalid, match="algorithm"):
        verify(server, f"{encoded}..{b64url(mac)}")
    assert server.requests == []  # refused before any key was fetched


def test_the_rfc_7515_form_with_a_base64url_payload_verifies_too(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    header = {"alg": "RS256", "kid": "1"}
    verify(server, sign(BODY, key, header=header))
    # b64: false signed, b64 claimed true: the signing inputs differ, so it fails
    forged = sign(BODY, key, header={"alg": "RS256", "b64": False, "kid": "1"})
    swapped_header = b64url(json.dumps({"alg": "RS256", "kid": "1"}).encode())
    with pytest.raises(SignatureInvalid):
        verify(server, swapped_header + forged[forged.index(".") :])


def test_unknown_critical_extensions_are_refused(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    ok = {"alg": "RS256", "b64": False, "crit": ["b64"], "kid": "1"}
    verify(server, sign(BODY, key, header=ok))
    bad = {"alg": "RS256", "b64": False, "crit": ["b64", "exp"], "kid": "1"}
    with pytest.raises(SignatureInvalid, match="critical"):
        verify(server, sign(BODY, key, header=bad))


@pytest.mark.parametrize(
    "signature",
    ["abc.def.ghi", "a..b..c", "!!!..abc", b64url(b"[1]") + "..abc"],
)
def test_malformed_jws_values_are_refused(server: JwksServer, signature: str) -> None:
    with pytest.raises(SignatureInvalid):
        verify(server, signature)


def test_a_delivery_naming_another_saleor_is_refused_without_fetching(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    signature = sign(BODY, key)
    headers = sent(signature, "https://evil.example.com/graphql/")
    with pytest.raises(SignatureInvalid, match=r"evil\.example\.com"):
        saleor.verify(headers, BODY, [], api_url=server.api_url, keys=JwksCache())
    assert server.requests == []
    # the same URL spelled without the trailing slash is the same instance
    headers = sent(signature, server.api_url.rstrip("/"))
    saleor.verify(headers, BODY, [], api_url=server.api_url, keys=JwksCache())


def test_keys_come_only_from_the_configured_url(server: JwksServer, key: rsa.RSAPrivateKey) -> None:
    # the attacker's own JWKS server holds the attacker's key; the header points at it
    attacker = new_key()
    with jwks_server(jwk(attacker, "1")) as theirs:
        signature = sign(BODY, attacker)
        headers = sent(signature, theirs.api_url)
        del headers["Saleor-Api-Url"]  # even with no header to compare, ours is the only URL
        with pytest.raises(SignatureInvalid, match="does not match"):
            saleor.verify(headers, BODY, [], api_url=server.api_url, keys=JwksCache())
        assert theirs.requests == []
    assert server.requests == ["/.well-known/jwks.json"]


def test_a_jwks_server_that_is_down_leaves_the_signature_unjudged(
    key: rsa.RSAPrivateKey,
) -> None:
    api_url = f"http://127.0.0.1:{closed_port()}/graphql/"
    headers = sent(sign(BODY, key), api_url)
    with pytest.raises(KeysUnavailable, match="could not be fetched"):
        saleor.verify(headers, BODY, [], api_url=api_url, keys=JwksCache(timeout=2.0))


def test_a_failing_jwks_answer_is_unavailable_and_retried_only_after_the_spacing(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    keys = JwksCache(refetch_after=10.0, clock=clock)
    server.status = 500
    with pytest.raises(KeysUnavailable, match="HTTP 500"):
        verify(server, sign(BODY, key), keys=keys)
    with pytest.raises(KeysUnavailable, match="not trying again yet"):
        verify(server, sign(BODY, key), keys=keys)
    assert len(server.requests) == 1
    server.status = 200
    clock.now += 11
    verify(server, sign(BODY, key), keys=keys)


def test_cached_keys_still_verify_while_the_jwks_server_is_down(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    keys = JwksCache(refetch_after=10.0, max_age=3600.0, clock=clock)
    verify(server, sign(BODY, key), keys=keys)
    server.status = 503
    clock.now += 60
    verify(server, sign(BODY, key), keys=keys)  # kid 1 is cached and fresh
    clock.now += 3600  # past max_age the stale keys are not trusted
    with pytest.raises(KeysUnavailable):
        verify(server, sign(BODY, key), keys=keys)


def test_a_jws_needs_an_api_url_and_the_hmac_mode_still_works() -> None:
    with pytest.raises(SignatureInvalid, match="api_url"):
        saleor.verify(sent("eyJhbGciOiJSUzI1NiJ9..c2ln", "x"), BODY, [SECRET])
    hmac_signed = {"Saleor-Event": "order_fully_paid", "Saleor-Signature": hex_hmac(BODY)}
    saleor.verify(hmac_signed, BODY, [SECRET], api_url="https://shop.example.com/graphql/")
    with pytest.raises(SignatureInvalid, match="no signing secret"):
        saleor.verify(hmac_signed, BODY, [], api_url="https://shop.example.com/graphql/")
    with pytest.raises(SignatureInvalid, match="missing"):
        saleor.verify({}, BODY, [], api_url="https://shop.example.com/graphql/")


# A slow or hostile JWKS server: every tenant names its own Saleor, so one of them must not be
# able to hold a fetch open, fill the memory or keep the other tenants' deliveries waiting.


def test_a_trickling_jwks_server_runs_into_the_deadline_of_the_whole_fetch(
    key: rsa.RSAPrivateKey,
) -> None:
    with jwks_server(jwk(key, "1")) as slow:
        # a byte every 50 ms: no single read ever waits a second, the whole body takes 30 s
        slow.mode = "trickle"
        with pytest.raises(KeysUnavailable, match="no complete answer within 1 s"):
            verify(slow, sign(BODY, key), keys=JwksCache(timeout=1.0))
        assert slow.disconnected.wait(10)  # and the abandoned fetch hung up


def test_an_endless_jwks_is_dropped_once_it_passes_the_cap(key: rsa.RSAPrivateKey) -> None:
    with jwks_server(jwk(key, "1")) as huge:
        huge.mode = "endless"  # no length, no end: reading it all would never finish
        with pytest.raises(KeysUnavailable, match="larger than 65536 bytes"):
            verify(huge, sign(BODY, key), keys=JwksCache(timeout=30.0))
        assert huge.disconnected.wait(10)


def test_a_jwks_declaring_a_length_over_the_cap_is_refused_before_its_body(
    key: rsa.RSAPrivateKey,
) -> None:
    with jwks_server(jwk(key, "1")) as huge:
        huge.mode, huge.declared = "endless", 10 * 1024 * 1024
        with pytest.raises(KeysUnavailable, match="declares 10485760 bytes"):
            verify(huge, sign(BODY, key), keys=JwksCache(timeout=30.0))
        assert huge.disconnected.wait(10)


def test_a_compressed_jwks_is_refused(server: JwksServer, key: rsa.RSAPrivateKey) -> None:
    # asked for identity; a gzip body could inflate far past the cap inside one chunk
    server.mode = "gzip"
    with pytest.raises(KeysUnavailable, match="gzip-encoded"):
        verify(server, sign(BODY, key), keys=JwksCache())


class Attempt(threading.Thread):
    """``verify`` in a thread of its own, as the hook endpoint runs it; keeps what it raised."""

    def __init__(self, server: JwksServer, signature: str, keys: JwksCache) -> None:
        super().__init__(daemon=True)
        self.server, self.signature, self.keys = server, signature, keys
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            verify(self.server, self.signature, keys=self.keys)
        except BaseException as error:  # handed to the test, which asserts on it
            self.error = error

    def outcome(self) -> BaseException | None:
        self.join(30)
        assert not self.is_alive()
        return self.error


def test_a_slow_jwks_of_one_shop_does_not_hold_up_another_shops_deliveries(
    key: rsa.RSAPrivateKey, next_key: rsa.RSAPrivateKey
) -> None:
    keys = JwksCache(timeout=30.0)
    with jwks_server(jwk(key, "1")) as slow, jwks_server(jwk(next_key, "1")) as other:
        slow.mode = "hold"  # answers only when the test says so
        stuck = Attempt(slow, sign(BODY, key), keys)
        assert slow.arrived.wait(10)  # the fetch for shop A is under way, and stays so
        verify(other, sign(BODY, next_key), keys=keys)  # shop B: fetched and checked meanwhile
        assert stuck.is_alive()
        slow.release.set()
        assert stuck.outcome() is None
    assert slow.requests == other.requests == ["/.well-known/jwks.json"]


def test_cached_keys_verify_while_a_rotation_fetch_for_the_same_url_is_under_way(
    server: JwksServer, key: rsa.RSAPrivateKey, next_key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    keys = JwksCache(timeout=30.0, clock=clock)
    verify(server, sign(BODY, key), keys=keys)
    server.keys = [jwk(key, "1"), jwk(next_key, "2")]
    server.mode, clock.now = "hold", clock.now + 30
    server.arrived.clear()
    rotating = Attempt(server, sign(BODY, next_key, kid="2"), keys)  # unknown kid: re-fetches
    assert server.arrived.wait(10)
    verify(server, sign(BODY, key), keys=keys)  # kid 1 is cached: no waiting for that fetch
    assert rotating.is_alive()
    server.release.set()
    assert rotating.outcome() is None
    assert len(server.requests) == 2


def test_concurrent_deliveries_for_one_url_share_a_single_fetch(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    keys = JwksCache(timeout=30.0)
    server.mode = "hold"
    first = Attempt(server, sign(BODY, key), keys)
    assert server.arrived.wait(10)
    waiting = [Attempt(server, sign(BODY, key), keys) for _ in range(5)]
    server.release.set()
    assert [attempt.outcome() for attempt in (first, *waiting)] == [None] * 6
    assert server.requests == ["/.well-known/jwks.json"]


def test_a_request_waiting_for_another_requests_fetch_gives_up_after_the_timeout(
    server: JwksServer, key: rsa.RSAPrivateKey
) -> None:
    started, finish = threading.Event(), threading.Event()

    def stalled(url: str, timeout: float) -> bytes:  # a fetch that outlives its own deadline
        started.set()
        finish.wait(30)
        return http_fetch(url, timeout)

    keys = JwksCache(stalled, timeout=0.2)
    first = Attempt(server, sign(BODY, key), keys)
    assert started.wait(10)
    with pytest.raises(KeysUnavailable, match="still being fetched"):
        verify(server, sign(BODY, key), keys=keys)
    finish.set()
    assert first.outcome() is None
