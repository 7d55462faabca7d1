"""Real Daphne processes on loopback for end-to-end tests, stopped by their pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaphneServer:
    """A migrated database, one API key, and Daphne serving the project on 127.0.0.1."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str] | None = None,
        *,
        startup_timeout: float = 30.0,
        application: str = "riptide_dashboard.asgi:application",
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / f"daphne-{self.port}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "riptide_dashboard.settings",
            "DATABASE_URL": f"sqlite:///{self.workdir / 'db.sqlite3'}",
            "PROFILING_SNAPSHOT_DIR": str(self.workdir / "snapshots"),
            "PROFILING_MEMORY_INTERVAL_SECS": "0.2",
            "DJANGO_LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.startup_timeout = startup_timeout
        self.application = application
        self.process: subprocess.Popen | None = None
        self.api_key: str | None = None

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def create_key(self, name: str = "e2e") -> str:
        return self.manage("create_api_key", "--name", name).stdout.strip().splitlines()[-1]

    def command(self) -> list[str]:
        """The server's command line (a subclass may serve the project with another server)."""
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), self.application]

    def start(self) -> DaphneServer:
        self.manage("migrate", "--noinput", "-v", "0")
        if self.api_key is None:
            self.api_key = self.create_key()
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not answer in {self.startup_timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def client(self, key: str | None = None, **kwargs) -> httpx.Client:
        headers = {"X-API-Key": key or self.api_key} if (key or self.api_key) else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    def __enter__(self) -> DaphneServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
