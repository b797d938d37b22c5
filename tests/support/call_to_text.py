"""Helpers of the call-to-text tests: the caller, the workflow's message, the shape of `hit`
(the fixture that calls a workflow's URL as a phone system does) and the simulator's texts."""

from __future__ import annotations

from typing import Any, Protocol

from django.test import Client

CALLER = "+18185550142"
MESSAGE = "This is {practiceName}. Sorry for the wait: reply here and we will help you by text."


class Hit(Protocol):
    def __call__(
        self,
        token: str,
        caller: Any = CALLER,
        *,
        via: str = "query",
        path: str = "",
        **extra: Any,
    ) -> Any: ...


def simulator_texts(client: Client, number: str) -> list[dict[str, Any]]:
    response = client.get("/simulator/api/messages", {"to": number})
    assert response.status_code == 200
    results: list[dict[str, Any]] = response.json()["results"]
    return results
