"""Start a conversation with any US number from a chosen line (through the one send path), and
hand a conversation over to another practice of the enterprise (an event in the thread)."""

from __future__ import annotations

from typing import Any

import pytest

from channels_app.models import AuditLog, ChannelEvent, PatientChannel
from messaging.models import Message, OptOut
from practices.models import Membership, Practice
from tests.factories import LineFactory, MembershipFactory, MessageFactory, PatientChannelFactory
from tests.support import channel_url, client_for, make_practice


def test_staff_text_any_number_from_a_chosen_line(
    run: Any, staff_a: Any, practice_a: Practice
) -> None:
    second = LineFactory(practice=practice_a, name="A second", is_default=False)
    client = client_for(staff_a)
    assert "A second" in client.get("/inbox/new/").content.decode()

    response = run(
        client.post,
        path="/inbox/new/",
        data={"line": str(second.pk), "number": "(818) 555-0199", "body": "Hi, this is Dr. Lee"},
    )

    message = Message.objects.get()
    channel = message.channel
    assert response.status_code == 302
    assert response["Location"] == channel_url(channel)
    assert (channel.line, channel.phone, channel.patient) == (second, "+18185550199", None)
    assert (message.body, message.is_secure, message.sender_user) == (
        "Hi, this is Dr. Lee",
        False,
        staff_a,
    )
    assert message.status == "delivered"  # sent by the simulator through the send path
    assert AuditLog.objects.filter(action="message_sent", message_id=message.pk).exists()


@pytest.mark.parametrize(
    ("number", "body", "error"),
    [
        ("+44 20 7946 0958", "hi", "US"),
        ("12", "hi", "number"),
        ("(818) 555-0199", "", "Write the text to send."),
    ],
)
def test_bad_input_is_a_form_error_and_sends_nothing(
    staff_a: Any, practice_a: Practice, number: str, body: str, error: str
) -> None:
    line = practice_a.lines.get()
    response = client_for(staff_a).post(
        "/inbox/new/", {"line": str(line.pk), "number": number, "body": body}
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Message.objects.exists()
    assert not PatientChannel.objects.exists()


def test_an_opted_out_number_is_refused(staff_a: Any, practice_a: Practice) -> None:
    line = practice_a.lines.get()
    OptOut.objects.create(line=line, phone="+18185550199")
    response = client_for(staff_a).post(
        "/inbox/new/", {"line": str(line.pk), "number": "8185550199", "body": "hi"}
    )
    assert response.status_code == 400
    assert "opted out" in response.content.decode()
    assert not Message.objects.exists()


def test_another_practices_line_cannot_be_used(
    staff_a: Any, practice_a: Practice, practice_b: Practice
) -> None:
    client = client_for(staff_a)
    assert practice_b.lines.get().name not in client.get("/inbox/new/").content.decode()
    response = client.post(
        "/inbox/new/",
        {"line": str(practice_b.lines.get().pk), "number": "8185550199", "body": "hi"},
    )
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_someone_without_a_practice_cannot_start(staff_b: Any, db: None) -> None:
    from tests.factories import UserFactory

    assert client_for(UserFactory()).get("/inbox/new/").status_code == 404


@pytest.fixture
def clinic(practice_a: Practice) -> Practice:
    return make_practice(practice_a.enterprise, "Cardiology Clinic")


def test_a_conversation_moves_to_another_practice_of_the_enterprise(
    staff_a: Any, colleague: Any, practice_a: Practice, clinic: Practice, verified_channel: Any
) -> None:
    clinician = MembershipFactory(practice=clinic, role=Membership.Role.STAFF).user
    MessageFactory(channel=verified_channel, body="Can I see cardiology?")
    verified_channel.assignee = colleague
    verified_channel.save()
    client = client_for(staff_a)

    response = client.post(channel_url(verified_channel, "move/"), {"practice": str(clinic.pk)})

    verified_channel.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"  # staff_a is not a member of the clinic
    assert (verified_channel.practice, verified_channel.line) == (clinic, clinic.lines.get())
    assert verified_channel.assignee is None  # not a member of the clinic
    event = ChannelEvent.objects.get(kind="moved")
    assert (event.actor, event.from_practice, event.practice) == (staff_a, practice_a, practice_a)
    # The clinic sees it, with the move in the thread; practice A no longer does.
    html = client_for(clinician).get(channel_url(verified_channel)).content.decode()
    assert "moved the conversation here from Practice A" in html
    assert "Can I see cardiology?" in html
    assert client.get(channel_url(verified_channel)).status_code == 404


def test_a_member_of_both_stays_on_the_thread(
    staff_a: Any, clinic: Practice, verified_channel: Any
) -> None:
    MembershipFactory(practice=clinic, user=staff_a)
    response = client_for(staff_a).post(
        channel_url(verified_channel, "move/"), {"practice": str(clinic.pk)}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == channel_url(verified_channel)


def test_a_move_to_another_enterprise_or_nowhere_is_refused(
    staff_a: Any, practice_b: Practice, verified_channel: Any
) -> None:
    client = client_for(staff_a)
    for target in (str(practice_b.pk), str(verified_channel.practice_id), "junk", ""):
        client.post(channel_url(verified_channel, "move/"), {"practice": target})
    verified_channel.refresh_from_db()
    assert verified_channel.practice_id != practice_b.pk
    assert not ChannelEvent.objects.filter(kind="moved").exists()
    assert "Practice B" not in client.get(channel_url(verified_channel)).content.decode()


def test_a_move_onto_an_existing_conversation_is_refused(
    staff_a: Any, clinic: Practice, verified_channel: Any
) -> None:
    PatientChannelFactory(
        line=clinic.lines.get(), patient=verified_channel.patient, phone=verified_channel.phone
    )
    response = client_for(staff_a).post(
        channel_url(verified_channel, "move/"), {"practice": str(clinic.pk)}, follow=True
    )
    assert "already has a conversation with this patient" in response.content.decode()
    verified_channel.refresh_from_db()
    assert verified_channel.practice_id != clinic.pk


def test_another_practices_staff_cannot_move_it(
    staff_b: Any, clinic: Practice, verified_channel: Any
) -> None:
    response = client_for(staff_b).post(
        channel_url(verified_channel, "move/"), {"practice": str(clinic.pk)}
    )
    assert response.status_code == 404
    verified_channel.refresh_from_db()
    assert verified_channel.practice_id != clinic.pk


def test_a_moved_conversation_is_searched_by_its_new_practice(
    staff_a: Any, clinic: Practice, verified_channel: Any
) -> None:
    from inbox.selectors import messages_search_for_user

    clinician = MembershipFactory(practice=clinic).user
    MessageFactory(channel=verified_channel, body="palpitations at night")
    client_for(staff_a).post(channel_url(verified_channel, "move/"), {"practice": str(clinic.pk)})

    assert messages_search_for_user(user=staff_a, q="palpitations") == []
    assert len(messages_search_for_user(user=clinician, q="palpitations")) == 1


def test_the_new_conversation_form_opens_in_the_thread_pane(
    staff_a: Any, practice_a: Practice
) -> None:
    response = client_for(staff_a).get(
        "/inbox/new/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="thread-pane"
    )
    html = response.content.decode()
    assert html.startswith("<title>New conversation · Artera</title>")
    assert 'id="channel-list"' not in html
    assert 'name="number"' in html


def test_both_inboxes_notice_a_move(staff_a: Any, clinic: Practice, verified_channel: Any) -> None:
    from inbox.selectors import inbox_stamp

    clinician = MembershipFactory(practice=clinic).user
    PatientChannelFactory(line=clinic.lines.get(), phone="+18185550188")  # the clinic's own
    before = inbox_stamp(user=staff_a), inbox_stamp(user=clinician)

    client_for(staff_a).post(channel_url(verified_channel, "move/"), {"practice": str(clinic.pk)})

    after = inbox_stamp(user=staff_a), inbox_stamp(user=clinician)
    assert after[0] != before[0]
    assert after[1] != before[1]
    assert str(verified_channel.pk) in client_for(clinician).get("/inbox/").content.decode()
