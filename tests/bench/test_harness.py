"""The benchmark harness's own parts: the profile summary and the fixed-count load generator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.loadgen import http_request, load_run
from bench.profile import REQUEST_FRAME, TASK_FRAME, summarise

HANDLER = "MessageCreateView.post (webhooks/api/views.py)"
WAIT = "Connection.wait (psycopg/connection.py)"


def test_summary_counts_only_samples_under_the_root_frame() -> None:
    raw = "\n".join(
        [
            f'process 1:"gunicorn";<module> (gunicorn);{REQUEST_FRAME};{HANDLER};{WAIT} 30',
            f"<module> (gunicorn);{REQUEST_FRAME};{HANDLER} 10",
            f"<module> (gunicorn);{REQUEST_FRAME} 10",
            "<module> (gunicorn);SyncWorker.accept (gunicorn/workers/sync.py) 950",  # idle
            "not a sample line",
        ]
    )
    summary = summarise(raw)
    assert summary["samples"] == 50
    inclusive = dict(summary["inclusive"])
    assert inclusive[HANDLER] == 80.0
    assert inclusive[WAIT] == 60.0
    assert inclusive[REQUEST_FRAME] == 100.0
    own = dict(summary["self"])
    assert own == {WAIT: 60.0, HANDLER: 20.0, REQUEST_FRAME: 20.0}


def test_summary_of_a_worker_counts_task_samples() -> None:
    task = f"build_tracer.<locals>.{TASK_FRAME}"
    raw = f"<module> (celery);{task};message_dispatch (messaging/tasks.py) 5\n<module> (celery) 95"
    summary = summarise(raw, root=TASK_FRAME)
    assert summary["samples"] == 5
    assert dict(summary["inclusive"])["message_dispatch (messaging/tasks.py)"] == 100.0
    assert summarise(raw)["samples"] == 0  # no request frames in a worker


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        status = 202 if body.startswith(b"ok") else 422
        answer = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_load_run_sends_exactly_the_requests_asked_for(server: int) -> None:
    def make(index: int) -> bytes:
        body = b"ok" if index % 4 else b"no"
        return http_request("POST", "/x", host="127.0.0.1", headers={}, body=body)

    result = load_run(
        host="127.0.0.1", port=server, total=40, connections=5, make_request=make, keep_bodies=True
    )
    assert result.requests == 40
    assert result.connection_errors == 0
    assert dict(result.statuses) == {202: 30, 422: 10}
    assert len(result.latencies_ms) == 40
    assert result.bodies[0] == b'{"ok": true}'
    assert 0 < result.percentile(50) <= result.percentile(99)


def test_load_run_counts_refused_connections() -> None:
    # A port nobody listens on (bound, never listening): every attempt is a connection error.
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        result = load_run(
            host="127.0.0.1",
            port=port,
            total=3,
            connections=1,
            make_request=lambda i: http_request("POST", "/", host="x", headers={}),
        )
    assert result.requests == 3
    assert result.connection_errors == 3
    assert not result.statuses


def test_load_run_works_inside_a_running_event_loop(server: int) -> None:
    """Browser tests leave an event loop running in the test thread; the harness may be called
    from one too."""
    import asyncio

    async def inside() -> int:
        result = load_run(
            host="127.0.0.1",
            port=server,
            total=4,
            connections=2,
            make_request=lambda i: http_request("POST", "/", host="x", headers={}, body=b"ok"),
        )
        return result.statuses[202]

    # A thread of its own, so the test does not depend on what the test thread runs.
    answers: list[int] = []
    caller = threading.Thread(target=lambda: answers.append(asyncio.run(inside())))
    caller.start()
    caller.join(timeout=60)
    assert answers == [4]
