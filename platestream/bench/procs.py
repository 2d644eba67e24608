"""Subprocesses, ports and throw-away Postgres databases, shared by the service benchmark and the tests."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
POSTGRES_ADMIN = os.environ.get("PLATESTREAM_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_SPAN = 10_000  # free ports are drawn from this many ports just below the ephemeral range


def ephemeral_low() -> int:
    """The first port the kernel hands out to outgoing connections (Linux default 32768)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port nothing listens on now, for a server started a moment later.

    Drawn at random from below the ephemeral range: a port the kernel picks (bind to port 0) comes from that range,
    so any outgoing connection (to Redis, Postgres, a camera) could take it before the server binds it.
    """
    low = ephemeral_low()
    draw = random.SystemRandom()
    for _ in range(200):
        port = draw.randrange(max(1024, low - PORT_SPAN), max(1025, low))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # everything below the range taken: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A platestream (or helper) subprocess whose output goes to a log file; `stop` ends it and closes the log.

    Arguments starting with an absolute executable path run as given; others are platestream subcommands.
    """

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        command = args if args[0].startswith("/") else [sys.executable, "-m", "platestream.cli", *args]
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(command, stdout=self.handle, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"process exited ({self.proc.returncode}):\n{self.output()}")
            time.sleep(0.2)
        raise TimeoutError(f"no {text!r} within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = 15, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()
        return self.proc.returncode


def wait_until(check: Callable[[], T], timeout: float, interval: float = 0.5) -> T:
    """Poll `check()` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


@contextmanager
def fresh_postgres(prefix: str = "platestream_test", admin_url: str = POSTGRES_ADMIN) -> Iterator[str]:
    """A new, empty database; dropped afterwards (FORCE: a process that was killed may still hold a session)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin_sql(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{admin_url.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def admin_sql(admin_url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
