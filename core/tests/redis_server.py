"""A real `redis-server` of a test's own, on a free port: the `redis_server` fixture
(registered by the root conftest). The test can kill it (SIGKILL), freeze it (SIGSTOP: the
kernel accepts connections, nobody answers), thaw it and start it again on the same port."""

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

from core.cache import breakers_reset


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = tempfile.mkdtemp(prefix="redis-test-")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def kill(self) -> None:
        """SIGKILL: the port is closed, connections are refused."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait()
        self.process = None

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def connections_received(self) -> int:
        return int(self.client().info("stats")["total_connections_received"])

    def keys(self, prefix: str) -> list[str]:
        return [key.decode() for key in self.client().scan_iter(match=f"{prefix}:*")]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    breakers_reset()
    yield server
    server.kill()
    breakers_reset()


def resilient_caches(url: str, *, prefix: str, cooldown: float) -> dict:
    """CACHES of the production shape, on the test's own Redis."""
    options = {"CIRCUIT_BREAKER_COOLDOWN": cooldown}
    return {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": options,
        },
        "throttle": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"{prefix}-throttle",
            "OPTIONS": {**options, "FALLBACK": True},
        },
    }
