"""The composer's tools: smart phrases previewed as this conversation fills them in (the values
the counter counts), quick responses with their topic and the "Plain SMS" badge."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

from channels_app.models import PatientChannel
from practices.models import SmartPhrase
from tests.factories import QuickResponseFactory
from tests.support import channel_url, client_for


def test_smart_phrases_are_previewed_filled_in_for_this_conversation(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    staff_a.first_name = "Sam"
    staff_a.save()
    SmartPhrase.objects.create(
        enterprise=verified_channel.practice.enterprise,
        name="signoff",
        text="Thanks, {staffFirstName} at {practiceName}",
    )

    html = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    values = json.loads(unescape(re.search(r'data-phrases="([^"]*)"', html).group(1)))
    assert values["patientFirstName"] == "Ana"
    assert values["staffFirstName"] == "Sam"
    assert values["signoff"] == "Thanks, Sam at Practice A"
    assert "→ “Ana”" in html
    assert "→ “Thanks, Sam at Practice A”" in html


def test_an_unverified_number_previews_patient_phrases_as_blank(
    staff_a: Any, unverified_channel: PatientChannel
) -> None:
    html = client_for(staff_a).get(channel_url(unverified_channel)).content.decode()
    values = json.loads(unescape(re.search(r'data-phrases="([^"]*)"', html).group(1)))
    assert values["patientFirstName"] == ""
    assert "(blank here)" in html


def test_quick_responses_carry_topic_and_the_plain_sms_badge(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    QuickResponseFactory(practice=verified_channel.practice, topic="Parking", text="!! Lot B")
    QuickResponseFactory(practice=verified_channel.practice, topic="Hours", text="We open at 8")

    html = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    assert 'data-insert="!! Lot B" data-topic="Parking" data-plain="1"' in html
    assert 'data-insert="We open at 8" data-topic="Hours" data-plain="0"' in html
    assert html.count('<span class="badge">Plain SMS</span>') == 1
    assert 'id="quick-search"' in html
