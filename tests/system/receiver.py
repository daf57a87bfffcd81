"""A real HTTP server that receives webhooks, records them and answers as a test scripts it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # What to do with the next requests: an HTTP status, or ("sleep", seconds); then 200.
    script: list[int | tuple[str, float]] = field(default_factory=list)
    # Only requests whose body contains this text take actions from the script.
    script_only_for: bytes | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_action(self, body: bytes) -> int | tuple[str, float]:
        with self.lock:
            if self.script_only_for is not None and self.script_only_for not in body:
                return 200
            return self.script.pop(0) if self.script else 200


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            action = receiver.next_action(body)
            if isinstance(action, tuple):
                time.sleep(action[1])
                action = 200
            with receiver.lock:
                receiver.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body)
                )
            self.send_response(action)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
