"""Internal notes with @mentions; staff's own smart phrases; managers' quick responses."""

from __future__ import annotations

from typing import Any

from channels_app.models import InternalNote, Notification, PatientChannel
from practices.models import Practice, QuickResponse, SmartPhrase
from tests.factories import QuickResponseFactory, SmartPhraseFactory
from tests.support import channel_url, client_for


def test_a_mention_notifies_a_member_of_the_practice_only(
    staff_a: Any, colleague: Any, staff_b: Any, verified_channel: PatientChannel
) -> None:
    response = client_for(staff_a).post(
        channel_url(verified_channel, "notes/"),
        {"body": "@dana please call her back. cc @staff_b"},
        HTTP_HX_REQUEST="true",
    )

    assert response["HX-Trigger"] == "thread-changed"
    note = InternalNote.objects.get()
    assert note.author == staff_a
    notification = Notification.objects.get()
    assert (notification.user, notification.note, notification.channel) == (
        colleague,
        note,
        verified_channel,
    )
    mentions = client_for(colleague).get("/inbox/mentions/").content.decode()
    assert "please call her back" in mentions
    assert "1 new mention" in client_for(colleague).get("/inbox/").content.decode()

    client_for(colleague).get(channel_url(verified_channel))
    assert Notification.objects.get().read_at is not None


def test_empty_note_is_a_form_error(staff_a: Any, verified_channel: PatientChannel) -> None:
    response = client_for(staff_a).post(
        channel_url(verified_channel, "notes/"), {"body": " "}, HTTP_HX_REQUEST="true"
    )
    assert "Write the note first." in response.content.decode()
    assert not InternalNote.objects.exists()


def test_quick_responses_and_phrases_are_offered_in_the_composer(
    staff_a: Any, colleague: Any, practice_a: Practice, verified_channel: PatientChannel
) -> None:
    QuickResponseFactory(practice=practice_a, topic="Billing", text="Call billing at 555-0100.")
    SmartPhraseFactory(enterprise=practice_a.enterprise, name="parking", text="Lot B")
    SmartPhraseFactory(enterprise=practice_a.enterprise, owner=staff_a, name="sig", text="— Sam")
    SmartPhraseFactory(enterprise=practice_a.enterprise, owner=colleague, name="danasig")

    page = client_for(staff_a).get(channel_url(verified_channel)).content.decode()

    assert "Billing" in page
    assert 'data-insert="Call billing at 555-0100."' in page
    assert 'data-insert="{parking}"' in page
    assert 'data-insert="{sig}"' in page
    assert 'data-insert="{practiceName}"' in page
    assert "danasig" not in page


def test_staff_add_and_edit_their_own_smart_phrases(
    staff_a: Any, colleague: Any, practice_a: Practice
) -> None:
    client = client_for(staff_a)
    client.post("/inbox/phrases/", {"name": "sig", "text": "— Sam at the front desk"})
    phrase = SmartPhrase.objects.get()
    assert (phrase.owner, phrase.enterprise) == (staff_a, practice_a.enterprise)

    client.post(f"/inbox/phrases/{phrase.pk}/", {"name": "sig", "text": "— Sam"})
    phrase.refresh_from_db()
    assert phrase.text == "— Sam"

    builtin = client.post("/inbox/phrases/", {"name": "practiceName", "text": "x"})
    assert "filled in by the platform" in builtin.content.decode()
    assert client_for(colleague).get(f"/inbox/phrases/{phrase.pk}/").status_code == 404
    assert (
        client_for(colleague).post(f"/inbox/phrases/{phrase.pk}/", {"delete": "1"}).status_code
        == 404
    )
    assert SmartPhrase.objects.count() == 1


def test_managers_edit_their_practices_quick_responses(
    manager_a: Any, staff_a: Any, staff_b: Any, practice_a: Practice
) -> None:
    url = f"/inbox/practices/{practice_a.pk}/quick-responses/"
    client = client_for(manager_a)

    assert "Quick responses" in client.get("/inbox/").content.decode()
    client.post(url, {"topic": "Hours", "text": "We open at 8.", "language": "en"})
    response = QuickResponse.objects.get()
    assert (response.practice, response.topic) == (practice_a, "Hours")

    client.post(
        f"{url}{response.pk}/", {"topic": "Hours", "text": "We open at 9.", "language": "es"}
    )
    response.refresh_from_db()
    assert (response.text, response.language) == ("We open at 9.", "es")

    assert client_for(staff_a).get(url).status_code == 404
    assert (
        client_for(staff_b).post(url, {"topic": "x", "text": "y", "language": "en"}).status_code
        == 404
    )
    client.post(f"{url}{response.pk}/", {"delete": "1"})
    assert not QuickResponse.objects.exists()
