"""A local stand-in for api.twilio.com's Messages resource (create and list), so the real
`twilio` client can be exercised without the internet.

Per destination number, a test can queue answers: an error `(http_status, twilio_code)`, or
`ACCEPT_THEN_FAIL` (Twilio keeps the message but the answer is a 500, as when a response is
lost on the way back).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

ACCEPT_THEN_FAIL = "accept-then-fail"

# The credentials and public address the Twilio tests configure, and Twilio's callback paths.
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://artera.example.org"
STATUS_PATH = "/webhooks/sms/twilio/status/"
INBOUND_PATH = "/webhooks/sms/twilio/"


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, list[Any]] = field(default_factory=dict)
    creates: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake._answer(self, "POST", urlsplit(self.path).path, form)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake._answer(self, "GET", parts.path, query)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def answer_next(self, to: str, *answers: Any) -> None:
        self.answers.setdefault(to, []).extend(answers)

    def _answer(
        self, handler: BaseHTTPRequestHandler, method: str, path: str, params: dict[str, str]
    ) -> None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {expected}":
            return _reply(handler, 401, {"code": 20003, "message": "Authenticate", "status": 401})
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return _reply(handler, 404, {"code": 20404, "message": "Not found", "status": 404})
        if method == "GET":
            found = [
                m
                for m in reversed(self.messages)
                if m["to"] == params.get("To", m["to"])
                and m["from"] == params.get("From", m["from"])
            ]
            return _reply(handler, 200, {"messages": found, "next_page_uri": None, "page": 0})
        self.creates += 1
        queued = self.answers.get(params.get("To", ""), [])
        answer = queued.pop(0) if queued else None
        if isinstance(answer, tuple):
            status, code = answer
            return _reply(handler, status, {"code": code, "message": "Refused", "status": status})
        message = {
            "sid": "SM" + uuid.uuid4().hex,
            "account_sid": self.account_sid,
            "to": params.get("To"),
            "from": params.get("From"),
            "body": params.get("Body"),
            "status": "queued",
            "direction": "outbound-api",
            "date_created": format_datetime(timezone.now(), usegmt=True),
            "date_sent": None,
            "status_callback": params.get("StatusCallback"),
        }
        self.messages.append(message)
        if answer == ACCEPT_THEN_FAIL:
            return _reply(handler, 500, {"code": 20500, "message": "Internal error", "status": 500})
        return _reply(handler, 201, message)


def _reply(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
