"""Migration 0006 marks the automated texts already stored, so a security code sent before it
is hidden from staff too, and old notices do not make a shared phone's next text ambiguous."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import PatientChannelFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("messaging", "0005_secure_links")]
AFTER = [("messaging", "0006_message_kind")]


def test_stored_automated_texts_get_their_kind() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Message = old.get_model("messaging", "Message")
    AfterHoursReply = old.get_model("messaging", "AfterHoursReply")
    channel = PatientChannelFactory()

    def text(body: str, sender_kind: str = "automation", direction: str = "outbound") -> str:
        message = Message.objects.create(
            channel_id=channel.pk,
            practice_id=channel.practice_id,
            line_id=channel.line_id,
            direction=direction,
            from_number="+12135550100",
            to_number=channel.phone.as_e164,
            body=body,
            sender_kind=sender_kind,
        )
        return str(message.pk)

    code = text(
        "Your Acme Clinic security code is 12345. It expires in 10 minutes. "
        "Do not share it with anyone."
    )
    confirmation = text(
        "Acme Clinic: You have been unsubscribed and will get no more texts from this number. "
        "Reply START to opt back in. Msg & data rates may apply."
    )
    closed = text("We're closed.")
    AfterHoursReply.objects.create(
        channel_id=channel.pk, message_id=closed, sent_at="2030-01-06T12:00:00Z"
    )
    staff = text("Your security code is 12345, says the patient's letter?", sender_kind="staff")
    inbound = text("Msg & data rates may apply.", sender_kind="patient", direction="inbound")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    kinds = dict(new.get_model("messaging", "Message").objects.values_list("pk", "kind"))

    assert {str(pk): kind for pk, kind in kinds.items()} == {
        code: "security_code",
        confirmation: "keyword_reply",
        closed: "after_hours",
        staff: "conversation",  # only automations' texts are marked
        inbound: "conversation",
    }
    # Back to the latest state for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
