"""Detached JWS (RS256) as Saleor signs webhooks, checked against the shop's JWKS.

Saleor (3.5+) signs a delivery whose webhook has no ``secretKey`` with its RSA key and puts a
compact JWS with the payload left out in ``Saleor-Signature``: ``<header>..<signature>``. The
protected header is ``{"alg": "RS256", "b64": false, "kid": "1", "typ": "JWT"}``: with
``b64: false`` (RFC 7797) the signing input is ``ASCII(<header>) || "." || <raw body bytes>``,
the body itself rather than its base64url form. A header without ``b64`` (or ``b64: true``)
is verified the RFC 7515 way, over the base64url of the body. The public keys are published at
``<scheme>://<host>/.well-known/jwks.json``.

Keys are fetched over HTTP only from the JWKS URL of the API URL configured on the connector
(never from a URL a delivery names), and cached per URL: an unknown ``kid`` (Saleor rotated its
key) re-fetches once, at most every ``refetch_after`` seconds, so a flood of made-up key ids
cannot turn into a flood of requests to the shop. When the keys cannot be fetched the delivery's
signature cannot be judged either way: ``KeysUnavailable`` (answered 503, so the store retries
later), never a pass.

Every tenant names its own Saleor, so one slow or hostile JWKS server must not hold up the
others: a fetch has one deadline for the whole exchange (connect, headers and body; a server
trickling bytes cannot keep it open), the body is streamed and dropped as soon as it passes
``MAX_JWKS_BYTES``, and the cache locks per URL (one fetch at a time per URL, the other requests
for that URL wait for it; requests for other URLs, and for keys already cached, do not wait).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from loyalty.integrations.errors import KeysUnavailable, SignatureInvalid

ALGORITHM = "RS256"
MAX_JWKS_BYTES = 64 * 1024
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_UNDERSTOOD_CRIT = frozenset({"b64"})

Fetch = Callable[[str, float], bytes]


def b64url_encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(text: str) -> bytes:
    """Unpadded base64url, strictly: any other character is an error."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def http_fetch(url: str, timeout: float) -> bytes:
    """GET the JWKS within ``timeout`` seconds in all; no redirects (the configured URL is the
    only one trusted), no compression, at most ``MAX_JWKS_BYTES`` read.

    httpx's own timeouts bound each connect and each read, not the exchange, so the exchange runs
    in a thread of its own and the caller stops waiting at the deadline. The abandoned thread
    gives up at its next chunk, or when its current read times out (``timeout`` again): it never
    outlives the deadline by more than one read timeout, and never holds more than the cap.
    """
    abandoned = threading.Event()
    outcome: list[bytes | Exception] = []

    def run() -> None:
        try:
            outcome.append(_stream(url, timeout, abandoned))
        except Exception as error:  # raised again in the caller's thread, whatever it is
            outcome.append(error)

    worker = threading.Thread(target=run, name="jwks-fetch", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        abandoned.set()
        raise KeysUnavailable(
            f"the signing keys at {url} could not be fetched: no complete answer within "
            f"{timeout:g} s"
        )
    result = outcome[0]
    if isinstance(result, Exception):
        raise result
    return result


def _stream(url: str, timeout: float, abandoned: threading.Event) -> bytes:
    failed = f"the signing keys at {url} could not be fetched"
    too_large = f"the JWKS at {url} is larger than {MAX_JWKS_BYTES} bytes"
    headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise KeysUnavailable(f"{failed}: HTTP {response.status_code}")
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding != "identity":
                # a compressed body could inflate far past the cap within a single chunk
                raise KeysUnavailable(f"{failed}: it came {encoding}-encoded")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > MAX_JWKS_BYTES:
                raise KeysUnavailable(  # said so up front: nothing read
                    f"the JWKS at {url} declares {declared} bytes, more than {MAX_JWKS_BYTES}"
                )
            body = bytearray()
            for chunk in response.iter_raw():
                if abandoned.is_set():
                    raise KeysUnavailable(f"{failed}: the deadline passed")
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise KeysUnavailable(too_large)
            return bytes(body)
    except httpx.HTTPError as error:
        raise KeysUnavailable(f"{failed}: {error}") from None


def parse_jwks(document: bytes, url: str) -> dict[str | None, rsa.RSAPublicKey]:
    """The RSA signing keys of a JWKS by ``kid`` (None for a key without one).

    Keys for other uses (``use`` not ``sig``), other algorithms or other key types are left out.
    """
    try:
        data = json.loads(document)
        entries = data["keys"]
        if not isinstance(entries, list):
            raise TypeError("keys is not a list")
    except (ValueError, KeyError, TypeError) as error:
        raise KeysUnavailable(f"{url} is not a JWKS: {error}") from None
    keys: dict[str | None, rsa.RSAPublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        kid = entry.get("kid")
        try:
            n = int.from_bytes(b64url_decode(str(entry["n"])), "big")
            e = int.from_bytes(b64url_decode(str(entry["e"])), "big")
            key = rsa.RSAPublicNumbers(e, n).public_key()
        except (KeyError, ValueError):
            continue  # a key we cannot read cannot have signed anything we accept
        keys[kid if isinstance(kid, str) else None] = key
    return keys


@dataclass(frozen=True)
class _Keys:
    """What one successful fetch found; replaced whole, so a reader without the lock never sees
    the keys of one fetch with the time of another."""

    keys: dict[str | None, rsa.RSAPublicKey] = field(default_factory=dict)
    fetched_at: float | None = None


@dataclass
class _Entry:
    current: _Keys = field(default_factory=_Keys)
    tried_at: float | None = None  # last attempt, successful or not (under ``lock``)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one fetch at a time


class JwksCache:
    """Public signing keys per JWKS URL, shared by the hook requests of one process.

    ``timeout`` is the deadline of a whole fetch, and also how long a request waits for a fetch
    of the same URL that another request has under way before it answers ``KeysUnavailable``.
    """

    def __init__(
        self,
        fetch: Fetch = http_fetch,
        *,
        timeout: float = 5.0,
        max_age: float = 3600.0,
        refetch_after: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.timeout = timeout
        self.max_age = max_age
        self.refetch_after = refetch_after
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def keys_for(self, url: str, kid: str | None) -> list[rsa.RSAPublicKey]:
        """The keys a signature with ``kid`` may be checked with (all of them without a kid).

        Raises ``KeysUnavailable`` when nothing usable is cached and the fetch fails, and
        ``SignatureInvalid`` when the JWKS, even freshly fetched, has no such key.
        """
        with self._lock:  # only the table of URLs: never held across a fetch
            entry = self._entries.setdefault(url, _Entry())
        found = self._cached(entry.current, kid, self._clock())
        if found:
            return found  # no waiting, even while a fetch for this URL is under way
        if not entry.lock.acquire(timeout=self.timeout):
            raise KeysUnavailable(
                f"the signing keys at {url} are still being fetched for another request"
            )
        try:  # whoever waited here finds the outcome of the fetch it waited for
            now = self._clock()
            if self._stale(entry.current, now):
                self._refresh(url, entry, now)
            found = _select(entry.current.keys, kid)
            if not found and self._may_retry(entry, now):
                self._refresh(url, entry, now)  # the shop may have rotated its key
                found = _select(entry.current.keys, kid)
        finally:
            entry.lock.release()
        if not found:
            name = f"'{kid}'" if kid is not None else "(no kid)"
            raise SignatureInvalid(f"no RS256 signing key {name} in the JWKS at {url}")
        return found

    def _stale(self, current: _Keys, now: float) -> bool:
        return current.fetched_at is None or now - current.fetched_at > self.max_age

    def _cached(self, current: _Keys, kid: str | None, now: float) -> list[rsa.RSAPublicKey]:
        return [] if self._stale(current, now) else _select(current.keys, kid)

    def _may_retry(self, entry: _Entry, now: float) -> bool:
        return entry.tried_at is None or now - entry.tried_at >= self.refetch_after

    def _refresh(self, url: str, entry: _Entry, now: float) -> None:
        if not self._may_retry(entry, now):
            if entry.current.fetched_at is None:
                raise KeysUnavailable(
                    f"the signing keys at {url} could not be fetched a moment ago; "
                    "not trying again yet"
                )
            return
        entry.tried_at = now
        try:
            keys = parse_jwks(self._fetch(url, self.timeout), url)
        except KeysUnavailable:
            if self._stale(entry.current, now):
                entry.current = _Keys()  # never trust keys older than max_age
                raise
            return  # a rotation check failed: the keys we have are still fresh
        entry.current = _Keys(keys, now)


def _select(keys: dict[str | None, rsa.RSAPublicKey], kid: str | None) -> list[rsa.RSAPublicKey]:
    if kid is None:
        return list(keys.values())
    key = keys.get(kid)
    return [key] if key is not None else []


def verify_detached(signature: str, raw_body: bytes, jwks_url: str, keys: JwksCache) -> None:
    """Raise ``SignatureInvalid`` unless ``signature`` is an RS256 detached JWS of the body."""
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureInvalid("the signature is not a detached JWS (<header>..<signature>)")
    protected, _, encoded_signature = parts
    header = _header(protected)
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise SignatureInvalid(f"the JWS algorithm {alg!r} is not accepted; only RS256 is")
    b64 = header.get("b64", True)
    if not isinstance(b64, bool):
        raise SignatureInvalid("the JWS header's b64 must be true or false")
    crit = header.get("crit", [])
    if not isinstance(crit, list) or any(name not in _UNDERSTOOD_CRIT for name in crit):
        raise SignatureInvalid(f"the JWS header names critical extensions we do not know: {crit}")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise SignatureInvalid("the JWS header's kid must be a string")
    try:
        signed = b64url_decode(encoded_signature)
    except (ValueError, binascii.Error):
        raise SignatureInvalid("the JWS signature is not base64url") from None
    payload = raw_body if b64 is False else b64url_encode(raw_body)
    signing_input = protected.encode("ascii") + b"." + payload
    for key in keys.keys_for(jwks_url, kid):
        try:
            key.verify(signed, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return
    raise SignatureInvalid("the JWS signature does not match the body")


def _header(protected: str) -> dict[str, Any]:
    try:
        header = json.loads(b64url_decode(protected))
    except (ValueError, binascii.Error):
        raise SignatureInvalid("the JWS header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise SignatureInvalid("the JWS header is not a JSON object")
    return header
