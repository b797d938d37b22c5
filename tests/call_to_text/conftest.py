"""Fixtures for call-to-text: a call-center practice with a fast line, a workflow and its token,
and `hit`, which calls the workflow's URL the way a phone system does.

Tasks run in-process; `hit` runs the request's after-commit callbacks, so a text the endpoint
stores has reached the simulated carrier when `hit` returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from practices.models import Line, Practice
from tests.factories import LineFactory, PracticeFactory
from tests.support import own_rate_limits
from tests.support.call_to_text import CALLER, MESSAGE, Hit
from webhooks.models import CallToTextWorkflow
from webhooks.services import call_to_text_url, call_to_text_workflow_create


@pytest.fixture(autouse=True)
def _call_to_text_settings(settings: Any) -> None:
    own_rate_limits(settings)
    settings.TRUSTED_PROXY_COUNT = 0


@pytest.fixture
def call_center(db: None) -> Practice:
    practice: Practice = PracticeFactory(
        name="Patient Access Call Center", kind=Practice.Kind.CALL_CENTER
    )
    return practice


@pytest.fixture
def line(call_center: Practice) -> Line:
    made: Line = LineFactory(practice=call_center, name="Call center", send_rate=Decimal("1000"))
    return made


@pytest.fixture
def make_workflow(line: Line) -> Callable[..., tuple[CallToTextWorkflow, str]]:
    def make(**fields: Any) -> tuple[CallToTextWorkflow, str]:
        fields.setdefault("practice", line.practice)
        fields.setdefault("line", line if fields["practice"] == line.practice else None)
        fields.setdefault("kind", CallToTextWorkflow.Kind.CALL_TO_TEXT)
        fields.setdefault("message", MESSAGE)
        return call_to_text_workflow_create(**fields)

    return make


@pytest.fixture
def workflow_and_token(
    make_workflow: Callable[..., tuple[CallToTextWorkflow, str]],
) -> tuple[CallToTextWorkflow, str]:
    return make_workflow()


@pytest.fixture
def workflow(workflow_and_token: tuple[CallToTextWorkflow, str]) -> CallToTextWorkflow:
    return workflow_and_token[0]


@pytest.fixture
def token(workflow_and_token: tuple[CallToTextWorkflow, str]) -> str:
    return workflow_and_token[1]


@pytest.fixture
def hit(client: Client, django_capture_on_commit_callbacks: Callable[..., Any]) -> Hit:
    """Call a workflow's URL with CALLER_ID_NUMBER `caller` (None: without it).

    `via`: "query" (GET ?CALLER_ID_NUMBER=…), "post-query" (POST with it in the query string),
    "form" (POST form), "json" (POST JSON). `path`: another URL than the token's own.
    """

    def call(
        token: str, caller: Any = CALLER, *, via: str = "query", path: str = "", **extra: Any
    ) -> Any:
        url = path or call_to_text_url(token)
        params = {} if caller is None else {"CALLER_ID_NUMBER": caller}
        with django_capture_on_commit_callbacks(execute=True):
            if via == "query":
                return client.get(url, params, **extra)
            if via == "post-query":
                return client.post(f"{url}?{urlencode(params)}", **extra)
            if via == "form":
                return client.post(url, params, **extra)
            if via == "json":
                return client.post(
                    url, json.dumps(params), content_type="application/json", **extra
                )
        raise ValueError(via)

    return call
