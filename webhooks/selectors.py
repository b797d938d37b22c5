"""Reads of integrator-facing objects that requests authenticate against."""

from __future__ import annotations

from artera.secrets import token_hash, token_matches

from .models import CALL_TO_TEXT_TOKEN_RE, CallToTextWorkflow


def call_to_text_workflow_get_by_token(*, token: str) -> CallToTextWorkflow | None:
    """The active workflow whose secret is `token`, or None (unknown, inactive or malformed
    tokens alike, so callers can answer all of them the same way).

    The row is found by the SHA-256 of the token (an indexed equality lookup: the hash an
    attacker controls says nothing about any stored hash) and the hashes are compared once
    more in constant time, so no part of the answer depends on how much of a guess was right.
    """
    if not CALL_TO_TEXT_TOKEN_RE.fullmatch(token):
        return None
    workflow = (
        CallToTextWorkflow.objects.select_related("practice__enterprise", "line")
        .filter(token_hash=token_hash(token), is_active=True)
        .first()
    )
    if workflow is None or not token_matches(token, workflow.token_hash):
        return None
    return workflow
