"""Private Redis and PostgreSQL servers for fault tests: they can be killed and restarted at will without
touching the shared servers other tests use."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.service_helpers import free_port, wait_until

REDIS_SERVER = "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server on a free port. `persistent`: AOF with fsync on every write in `workdir`, so a SIGKILL
    loses nothing that was acknowledged; otherwise nothing is kept on disk."""

    def __init__(self, workdir: Path, persistent: bool = False) -> None:
        self.workdir, self.persistent = workdir, persistent
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self.starts += 1
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        log = (self.workdir / f"redis-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.workdir),
             "--daemonize", "no", *aof], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(self.ping, timeout=20, interval=0.1)

    def ping(self) -> bool:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no {name} under /usr/lib/postgresql/*/bin")
    return found[-1]


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb, trust auth, user postgres) on a free port; run as the postgres
    user when the tests run as root (postgres refuses root)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="platestream-pg-"))  # not under pytest's root-only tmp dir
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._owner = "postgres" if os.geteuid() == 0 else None
        if self._owner:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run([postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True, user=self._owner, group=self._owner)

    def start(self) -> None:
        self.starts += 1
        log = (self.root / f"postgres-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [postgres_bin("postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.root),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=log, stderr=subprocess.STDOUT, user=self._owner, group=self._owner)
        log.close()
        wait_until(self.ready, timeout=30, interval=0.2)

    def ready(self) -> bool:
        check = subprocess.run([postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                               capture_output=True)
        return check.returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are disconnected, as in a real restart."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def remove(self) -> None:
        self.stop()
        time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
