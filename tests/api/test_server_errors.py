"""An unexpected exception in an API view is still the contract's JSON (500 internal_error),
is reported like any 500, and leaves nothing half-written."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from messaging.models import Message
from practices.models import Practice
from tests.support.api import MESSAGES_URL, ApiCaller, assert_error, message_payload
from webhooks.api import views
from webhooks.models import IdempotencyKey

pytestmark = pytest.mark.django_db


def test_unexpected_exception_is_json_500(
    api: ApiCaller, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "api_message_send", broken)
    # Django's test client re-raises a view's exception once it has been reported…
    with pytest.raises(RuntimeError, match="boom"):
        api.post(data=message_payload(practice), headers={"Idempotency-Key": "k"})
    # …and a real client gets the contract's error, not an HTML page.
    client = Client(raise_request_exception=False)
    response = client.post(
        MESSAGES_URL,
        message_payload(practice),
        content_type="application/json",
        headers={**api.headers(), "Idempotency-Key": "k"},
    )
    assert_error(response, 500, "internal_error", None)
    assert not Message.objects.exists()
    assert not IdempotencyKey.objects.exists()  # the retry will run afresh


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_wrong_method_on_docs_is_json(db: None, path: str) -> None:
    response = Client().post(path, "{}", content_type="application/json")
    assert_error(response, 405, "method_not_allowed", None)
