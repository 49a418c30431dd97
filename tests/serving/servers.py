"""Real mlsteward server processes for tests: a free loopback port, a
readiness poll with a deadline, stop by process id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

FEATURE_EXTRA = ["age_in_years", "application_id"]

#: One client for all polling: creating an httpx client costs ~50 ms (TLS setup).
HTTP = httpx.Client(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Any, *, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns neither None nor False, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Server:
    """A real mlsteward server process on a loopback port."""

    def __init__(self, home: Path, args: list[str], **env: str) -> None:
        self.home = home
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MLSTEWARD_HOME": str(home),
            "MLSTEWARD_AUTH_REQUIRED": "false",
            "MLSTEWARD_ACTOR": "tester",
            "MLSTEWARD_SERVING_POLL_SECONDS": "0.2",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> Server:
        out = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlsteward", *self.args, "--port", str(self.port)],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.proc.returncode}:\n{self.output()}"
                )
            try:
                return (
                    HTTP.get(f"{self.url}/v2/health/ready", timeout=1).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=timeout, what=f"{self.args} to be ready")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def wait_served(self, name: str, revision: int | None = None) -> None:
        """Until the server answers for ``name`` (at ``revision`` or later)."""

        def served() -> bool:
            r = HTTP.get(f"{self.url}/v2/models/{name}/ready", timeout=2)
            if r.status_code != 200:
                return False
            if revision is None:
                return True
            text = HTTP.get(f"{self.url}/metrics", timeout=2).text
            line = f'mlsteward_deployment_revision{{deployment="{name}"}} '
            for row in text.splitlines():
                if row.startswith(line):
                    return float(row.split()[-1]) >= revision
            return False

        wait_for(served, what=f"{name} served at revision {revision}")
