"""The live push across web nodes, served as the README says: gunicorn for pages and two uvicorn
nodes for `/ws/`, joined by the Redis channel layer. A patient's text that lands on the gunicorn
node reaches the practice's sockets on both uvicorn nodes, and not another practice's socket."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from websockets.sync.client import ClientConnection, connect

from practices.models import Practice
from tests.support import ServiceProcess, client_for, free_port
from tests.support.workers import worker_database_url

from .conftest import _answers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def nodes(real_services: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "artera.settings",
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": real_services,
        "LIVE_CHANNEL_PREFIX": f"artera-live-test-{uuid.uuid4().hex[:8]}",
        "SMS_BACKEND": "simulator",
        "LOG_LEVEL": "INFO",
    }
    bin_dir = Path(sys.executable).parent
    urls: dict[str, str] = {}
    processes: list[ServiceProcess] = []
    for name in ("gunicorn", "uvicorn-1", "uvicorn-2"):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        if name == "gunicorn":
            command = [str(bin_dir / "gunicorn"), "artera.wsgi:application", "--workers", "2"]
            command += ["--bind", f"127.0.0.1:{port}"]
        else:
            command = [str(bin_dir / "uvicorn"), "artera.asgi:application", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--no-access-log", "--no-proxy-headers"]
        process = ServiceProcess(
            name=name,
            command=command,
            env=env,
            tmp=tmp_path,
            ready_check=lambda base=base: _answers(f"{base}/accounts/login/"),
        )
        process.start()
        processes.append(process)
        urls[name] = base
    try:
        yield urls
    finally:
        for process in reversed(processes):
            process.stop()


def _socket(base: str, user: Any) -> ClientConnection:
    session = client_for(user).cookies[django_settings.SESSION_COOKIE_NAME].value
    socket = connect(
        base.replace("http://", "ws://") + "/ws/inbox/",
        origin=base,
        additional_headers={"Cookie": f"{django_settings.SESSION_COOKIE_NAME}={session}"},
        open_timeout=10,
    )
    assert json.loads(socket.recv(timeout=10))["type"] == "ready"
    return socket


def _next_message(socket: ClientConnection) -> dict[str, Any]:
    while True:
        event = json.loads(socket.recv(timeout=10))
        if event["type"] == "message":
            return event


def test_a_text_on_one_node_reaches_sockets_on_every_node(
    nodes: dict[str, str], staff_a: Any, manager_a: Any, staff_b: Any, practice_a: Practice
) -> None:
    sam = _socket(nodes["uvicorn-1"], staff_a)
    dana = _socket(nodes["uvicorn-2"], manager_a)
    outsider = _socket(nodes["uvicorn-1"], staff_b)

    request = urllib.request.Request(  # noqa: S310 (loopback, built here)
        f"{nodes['gunicorn']}/simulator/api/inbound",
        data=json.dumps(
            {"from": "+18185550333", "to": str(practice_a.lines.get().phone_number), "body": "Hi"}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        assert response.status == 202

    for socket in (sam, dana):
        event = _next_message(socket)
        assert event["direction"] == "inbound"
        assert event["new"] is True
    with pytest.raises(TimeoutError):
        outsider.recv(timeout=1)
    for socket in (sam, dana, outsider):
        socket.close()
