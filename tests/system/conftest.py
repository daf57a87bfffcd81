"""A real server process (uvicorn via `loyalty serve`) on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, database_url: str, workers: int = 1) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        env = {**os.environ, "LOYALTY_DATABASE_URL": self.database_url}
        command = [
            sys.executable,
            "-m",
            "loyalty.cli",
            "serve",
            "--port",
            str(self.port),
            "--no-jobs",
            "--workers",
            str(self.workers),
        ]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120  # slow to import on a loaded CI machine
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited: {self.process.stderr.read().decode() if self.process.stderr else ''}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 120 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, as in a power cut of the process."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process and self.process.stderr:
            self.process.stderr.close()


@pytest.fixture
def start_server(database_url: str) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(workers: int = 1) -> Server:
        server = Server(database_url, workers).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
