"""A tiny HTTP client for tests that talk to a real server on loopback (urllib, no session)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def request(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Returns status, headers (lower-case names) and the decoded JSON body (or the text)."""
    data = None
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 (loopback)
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), error.headers
    answer = {k.lower(): v for k, v in got.items()}
    body: Any = raw.decode(errors="replace")
    if answer.get("content-type", "").startswith("application/json"):
        body = json.loads(raw)
    return status, answer, body


def access_token(base_url: str, client_id: str, client_secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    status, _, body = request(
        "POST",
        f"{base_url}/oauth/token/",
        form={"grant_type": "client_credentials", "scope": "messages:send messages:read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert status == 200, body
    return str(body["access_token"])
