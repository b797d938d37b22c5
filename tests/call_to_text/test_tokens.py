"""The token is the credential: unknown, inactive and tampered tokens all get one 404 that says
nothing; only the token's hash is stored; a regenerated token retires the old URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from artera.secrets import token_hash
from messaging.models import Message
from practices.models import Line
from tests.factories import LineFactory, PracticeFactory
from tests.support.call_to_text import Hit
from webhooks.models import CallToTextWorkflow
from webhooks.services import call_to_text_token_regenerate, call_to_text_workflow_create

pytestmark = pytest.mark.django_db

NOT_FOUND = {"error": {"code": "not_found", "message": "Not found.", "field": None}}


def _tampered(token: str) -> list[str]:
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    return [
        flipped,  # one character changed
        token[:-1],  # one character short
        token + "A",  # one character more
        token.upper() if token.upper() != token else token.lower(),
        token[1:] + token[0],  # rotated
        "x" * len(token),
        token[:8],  # only the prefix admin shows
        "not-a-token",
        token + "/extra",
        "%00" + token,
    ]


def test_unknown_and_tampered_tokens_are_one_404(hit: Hit, token: str) -> None:
    for bad in _tampered(token):
        response = hit(bad, path=f"/webhook/call-to-text/{bad}/")
        assert response.status_code == 404, bad
        assert response.json() == NOT_FOUND, bad
        alias = hit(bad, path=f"/webhook/jive/{bad}/", via="form")
        assert (alias.status_code, alias.json()) == (404, NOT_FOUND)
    assert not Message.objects.exists()


def test_inactive_workflow_is_the_same_404(
    hit: Hit, token: str, workflow: CallToTextWorkflow
) -> None:
    workflow.is_active = False
    workflow.save(update_fields=["is_active"])
    response = hit(token)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert not Message.objects.exists()


def test_a_bad_token_is_404_whatever_else_is_wrong(hit: Hit, token: str) -> None:
    """Nothing about the request is judged before the token: a bad number, a bad body or a
    wrong address under a bad token still only says 404."""
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert hit(bad, "nonsense", path=f"/webhook/call-to-text/{bad}/").status_code == 404
    assert hit(bad, None, path=f"/webhook/call-to-text/{bad}/").status_code == 404


def test_other_paths_under_webhook_are_json_404(client: Client) -> None:
    for path in ("/webhook/", "/webhook/call-to-text/", "/webhook/other/x/"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), path


def test_only_the_hash_is_stored(workflow: CallToTextWorkflow, token: str) -> None:
    assert len(token) >= 43  # 32 random bytes: 256 bits
    assert workflow.token_hash == token_hash(token)
    stored = CallToTextWorkflow.objects.filter(pk=workflow.pk).values().get()
    assert token not in {str(value) for value in stored.values()}
    assert workflow.token_prefix == token[:8]


def test_each_workflow_gets_its_own_token(make_workflow: Callable[..., Any]) -> None:
    tokens = {make_workflow(language=lang)[1] for lang in ("en", "es", "vi")}
    assert len(tokens) == 3


def test_regenerating_retires_the_old_url(
    hit: Hit, token: str, workflow: CallToTextWorkflow
) -> None:
    new = call_to_text_token_regenerate(workflow=workflow)
    assert new != token
    assert hit(token).status_code == 404
    assert hit(new).status_code == 202
    workflow.refresh_from_db()
    assert workflow.token_hash == token_hash(new)


def test_a_workflow_of_another_practice_texts_from_its_own_line(hit: Hit, token: str) -> None:
    other_line = LineFactory(practice=PracticeFactory())
    _, other_token = call_to_text_workflow_create(
        practice=other_line.practice, kind="abandoned_call", message="We missed your call."
    )
    message = Message.objects.get(pk=hit(other_token).json()["message_id"])
    assert (message.line, message.body) == (other_line, "We missed your call.")


def test_errors_are_logged_without_the_token(
    hit: Hit, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    assert hit(token, "nonsense").status_code == 400
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert hit(bad, path=f"/webhook/call-to-text/{bad}/").status_code == 404
    assert token[:8] in caplog.text  # the prefix names the workflow
    assert token not in caplog.text
    assert bad not in caplog.text


def test_tokens_must_be_long(line: Line) -> None:
    with pytest.raises(ValueError, match="32-128 URL-safe characters"):
        call_to_text_workflow_create(
            practice=line.practice, kind="call_to_text", message="Hi", token="short"
        )
