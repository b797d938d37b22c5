"""Requests refused before a view reads them: chunked bodies without Content-Length (411), and
errors no view handled (JSON under /api/, /oauth/ and /webhook/, Django's pages elsewhere).

One test runs gunicorn, as deployed, on a loopback port: a chunked body really arrives there
without Content-Length, and without the middleware Django would read it as empty.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def _chunked(path: str, method: str = "POST", **extra: str) -> object:
    return Client().generic(method, path, b"", HTTP_TRANSFER_ENCODING="chunked", **extra)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_chunked_body_without_length_is_411_json_under_the_api(method: str) -> None:
    response = _chunked("/api/v1/messages", method)
    assert response.status_code == 411  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "length_required"  # type: ignore[attr-defined]


def test_a_chunked_page_post_is_a_plain_411(db: None) -> None:
    response = _chunked("/accounts/login/")
    assert response.status_code == 411  # type: ignore[attr-defined]
    assert response["Content-Type"].startswith("text/plain")  # type: ignore[index]


def test_a_body_with_its_length_passes(db: None) -> None:
    # Transfer-Encoding with a Content-Length (a proxy that de-chunked the body) is not refused.
    response = Client().generic(
        "POST",
        "/api/nothing-here",
        b"{}",
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_get_with_transfer_encoding_is_not_refused(db: None) -> None:
    assert _chunked("/api/nothing-here", "GET").status_code == 404  # type: ignore[attr-defined]


def test_a_bad_request_django_refuses_is_json_under_the_api(db: None) -> None:
    # A Host not in ALLOWED_HOSTS is refused by Django itself, before any view: handler400.
    api = Client().post("/api/v1/messages", "{}", "application/json", HTTP_HOST="evil.example")
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "bad_request"
    page = Client().get("/accounts/login/", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


# --- Through a real gunicorn ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def gunicorn() -> Iterator[int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "artera.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60  # start-up, not a measurement
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"gunicorn did not start: {error}") from None
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=30)


def _raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, value in (line.split(":", 1) for line in header_lines)
    }
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return int(status_line.split()[1]), headers, body


def _dechunk(data: bytes) -> bytes:
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


def test_gunicorn_chunked_post_is_411(gunicorn: int) -> None:
    body = json.dumps({"to": "+18185550101", "body": "Hi"}).encode()
    request = (
        b"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    )
    status, headers, answer = _raw_request(gunicorn, request)
    assert status == 411
    assert headers["content-type"].startswith("application/json")
    assert json.loads(answer)["error"]["code"] == "length_required"


def test_gunicorn_post_with_length_reaches_the_app(gunicorn: int) -> None:
    request = (
        b"POST /api/nothing-here HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n{}"
    )
    status, _, answer = _raw_request(gunicorn, request)
    assert status == 404
    assert json.loads(answer)["error"]["code"] == "not_found"
