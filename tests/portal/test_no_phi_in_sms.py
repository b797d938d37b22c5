"""No SMS body ever carries a secure message's text: every text the carrier carried, and every
message stored for the carrier, after secure sends of every kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from messaging.models import Message, SimulatorText
from messaging.replies import channel_reply
from messaging.services import line_dispatch, message_sms_text
from practices.models import Practice
from tests.factories import MembershipFactory
from tests.support.portal import Visitor, age, link_token

pytestmark = pytest.mark.django_db

SECRETS = [
    "HIV test: negative. Viral load undetectable.",
    "Your pathology report shows stage II carcinoma; please call.",
    "Rx: sertraline 50 mg daily, refill approved",
]


def test_no_carrier_record_contains_secure_text(
    send_secure: Callable[..., Message],
    visitor: Callable[[str], Visitor],
    practice: Practice,
    django_capture_on_commit_callbacks: Any,
) -> None:
    api_message = send_secure(body=SECRETS[0])
    staff = MembershipFactory(practice=practice).user
    with django_capture_on_commit_callbacks(execute=True):
        staff_message = channel_reply(
            channel=api_message.channel, user=staff, body=SECRETS[1], secure=True
        )
    with_link = send_secure(body=f"{SECRETS[2]} https://pharmacy.example.org/rx/123")
    # A repeated dispatch (a no-op once sent), the code step, and a reply on the portal.
    line_dispatch(line_id=staff_message.line_id, max_inline_wait=None)
    age(with_link.secure_link, days=2)
    me = visitor(link_token(with_link))
    me.dob()
    code = SimulatorText.objects.order_by("-created_at").first()
    assert code is not None
    assert "security code" in code.body
    me.code(code.body.split("security code is ")[1][:5])
    me.reply("Thanks, and my HIV question: do I need another test?")

    secure = Message.objects.filter(is_secure=True)
    assert secure.filter(direction="outbound").count() == 3
    texts = list(SimulatorText.objects.values_list("body", flat=True))
    assert len(texts) == 4  # three notices and a code (the portal reply never meets a carrier)
    for text in texts:
        for message in secure:
            assert message.body not in text
            for word in ("HIV", "carcinoma", "sertraline", "pharmacy", "biopsy"):
                assert word not in text
    for message in Message.objects.filter(direction="outbound"):
        sms = message_sms_text(message)
        assert not any(word in sms for word in ("HIV", "carcinoma", "sertraline"))
