"""Test helpers shared by several suites: a real webhook receiver on loopback, a subprocess
(a worker, a web server) the test starts and stops, settings every integration suite starts
from, and a signed-in client.

Helpers live here and in this package's modules (`tests.support.api`, `.workers`, `.portal`);
tests import them from here, never from a conftest. Fixtures shared by every folder are in
`tests.support.fixtures` (a plugin of `tests/conftest.py`); a folder's conftest holds only the
fixtures of that folder.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from messaging.outbox import broker_backoff_reset
from practices.models import Enterprise, Practice
from tests.factories import (
    LineFactory,
    PracticeFactory,
    PracticeLocationFactory,
)
from webhooks import ssrf

BASE_DIR = Path(__file__).resolve().parents[2]
# One namespace of Redis keys (pacing, rate limits) per test run, so runs sharing a Redis never
# share a line's slots or a client's budget.
RUN_ID = uuid.uuid4().hex[:8]
PACING_PREFIX = f"artera-test:{RUN_ID}:pacing"
NO_SUCH_HOST = socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def simulated_carrier(settings: Any) -> None:
    """The simulator plays the carrier and answers at once, on this run's own pacing keys; no
    broker back-off is left over from an earlier test."""
    settings.SMS_BACKEND = "simulator"
    settings.SMS_PACING_KEY_PREFIX = PACING_PREFIX
    settings.SMS_SIMULATOR_LATENCY = 0.0
    settings.SMS_SIMULATOR_REPORT_DELAY = 0.0
    broker_backoff_reset()


def own_rate_limits(settings: Any) -> None:
    """This test counts against API and call-to-text limits of its own."""
    settings.API_RATE_LIMIT_KEY_PREFIX = f"artera-test:{RUN_ID}:{uuid.uuid4().hex[:8]}"


@contextmanager
def dns_answers(
    monkeypatch: pytest.MonkeyPatch, hosts: Mapping[str, list[str]] | None = None
) -> Iterator[None]:
    """Webhook URLs' host names resolve from `hosts` (any other name does not exist): no test
    asks a real resolver, and the SSRF guard's cache starts and ends empty."""
    answers = dict(hosts or {})

    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise NO_SUCH_HOST
        return answers[host]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    ssrf.dns_cache_clear()
    try:
        yield
    finally:
        ssrf.dns_cache_clear()


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 60, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll until `predicate()` is truthy; fail the test after `timeout` seconds (a guard against
    hanging, not a measurement)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(interval)


class ServiceProcess:
    """A command of the deployment (a Celery worker, beat, gunicorn) as a subprocess group of the
    test's own: started (ready when `ready` shows in its log, or `ready_check()` holds), frozen,
    killed, stopped. Its output goes to a log file the test can read."""

    def __init__(
        self,
        *,
        name: str,
        command: list[str],
        env: dict[str, str],
        tmp: Path,
        ready: str = "",
        ready_check: Callable[[], bool] | None = None,
    ):
        self.name = name
        self.command = command
        self.env = env
        self.ready = ready
        self.ready_check = ready_check
        self.log_path = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Any:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach the children
            )

        def started() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                return True
            if self.ready_check is not None:
                return self.ready_check()
            return self.ready in self.log()

        wait_until(started, timeout=60, what=f"{self.name} to start")
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the whole group, as a crash or an OOM kill would."""
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class Receiver:
    """An integrator's webhook endpoint: records every request, answers from a script (then
    200)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[Answer] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    answer = receiver.script.pop(0) if receiver.script else Answer()
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/artera"

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self.script.extend(answers)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_practice(enterprise: Enterprise, name: str = "", location_id: str = "") -> Practice:
    practice: Practice = PracticeFactory(enterprise=enterprise, **({"name": name} if name else {}))
    # Fast lines: tests that are not about pacing should not wait for it.
    LineFactory(practice=practice, is_default=True, send_rate=Decimal("1000"))
    if location_id:
        PracticeLocationFactory(practice=practice, location_id=location_id)
    return practice


def client_for(user: Any) -> Client:
    """A test client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def channel_url(channel: Any, suffix: str = "") -> str:
    """The inbox page of a conversation (or one of its actions)."""
    return f"/inbox/channels/{channel.pk}/{suffix}"
