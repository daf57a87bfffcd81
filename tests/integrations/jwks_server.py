"""A Saleor stand-in for JWS tests: RSA keys, a JWKS served over real HTTP, and payloads signed
exactly as Saleor signs them (PyJWT ``api_jws.encode(..., is_payload_detached=True)``)."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    """The public half as Saleor's ``/.well-known/jwks.json`` lists it."""
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return {
        "kty": "RSA",
        "key_ops": ["verify"],
        "n": b64url(n),
        "e": b64url(e),
        "use": "sig",
        "kid": kid,
    }


def sign(
    body: bytes,
    key: rsa.RSAPrivateKey,
    *,
    kid: str = "1",
    header: dict[str, Any] | None = None,
) -> str:
    """``<header>..<signature>``: RS256 over ``<header>.<raw body>`` (b64: false, RFC 7797)."""
    protected = (
        header if header is not None else {"alg": "RS256", "b64": False, "kid": kid, "typ": "JWT"}
    )
    encoded = b64url(json.dumps(protected, separators=(",", ":"), sort_keys=True).encode())
    payload = body if protected.get("b64", True) is False else b64url(body).encode()
    signature = key.sign(encoded.encode() + b"." + payload, padding.PKCS1v15(), hashes.SHA256())
    return f"{encoded}..{b64url(signature)}"


@dataclass
class JwksServer:
    """Serves ``keys`` at ``/.well-known/jwks.json``; ``status`` other than 200 plays an outage.

    ``mode`` plays a slow or hostile server: ``"hold"`` answers only once ``release`` is set,
    ``"trickle"`` sends the start of a JWKS and then one byte every 50 ms (30 s in all),
    ``"endless"`` streams a body that never ends (with a ``Content-Length`` of ``declared`` when
    given), ``"gzip"`` answers compressed. ``arrived`` is set when a request comes in,
    ``disconnected`` when the client hangs up before the body ended.
    """

    port: int
    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    requests: list[str] = field(default_factory=list)
    mode: str = "normal"
    declared: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql/"

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"


@contextmanager
def jwks_server(*keys: dict[str, Any]) -> Iterator[JwksServer]:
    state = JwksServer(port=0, keys=list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            state.arrived.set()
            if state.mode == "hold":
                state.release.wait()
            if self.path != "/.well-known/jwks.json" or state.status != 200:
                self.send_response(404 if state.status == 200 else state.status)
                self.end_headers()
                return
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if state.mode in ("trickle", "endless"):
                if state.declared is not None:
                    self.send_header("Content-Length", str(state.declared))
                self.end_headers()  # HTTP/1.0 without a length: the body ends when we close
                self._stream()
                return
            if state.mode == "gzip":
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            trickle = state.mode == "trickle"
            chunk = b" " if trickle else b" " * 8192
            try:
                self.wfile.write(b'{"keys": [')
                for _ in range(600 if trickle else 1 << 40):
                    if state.stopping.wait(0.05 if trickle else 0):
                        return
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except OSError:
                state.disconnected.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
