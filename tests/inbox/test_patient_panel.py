"""The patient beside the thread: who they are, whether this number can be texted from this
line (an opted-out or undeliverable number disables the composer with the reason), and their
other conversations (across the enterprise only when it allows searching any patient)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from channels_app.models import PatientChannel
from messaging.models import Message, OptOut
from practices.models import Practice
from tests.factories import MessageFactory, PatientChannelFactory, PatientFactory
from tests.support import channel_url, client_for, make_practice


def page(user: Any, channel: PatientChannel) -> str:
    return client_for(user).get(channel_url(channel)).content.decode()


def panel(html: str) -> str:
    return html[html.index('id="patient-panel"') : html.index("</aside>")]


def test_the_panel_shows_who_the_patient_is(staff_a: Any, practice_a: Practice) -> None:
    patient = PatientFactory(
        enterprise=practice_a.enterprise,
        first_name="Rosa",
        last_name="Diaz",
        mrn="MRN-7731",
        date_of_birth=datetime.date(1961, 4, 9),
        preferred_language="es",
    )
    channel = PatientChannelFactory(
        line=practice_a.lines.get(), patient=patient, phone="+18185550111"
    )

    html = panel(page(staff_a, channel))

    assert "Rosa Diaz" in html
    assert "Apr 9, 1961" in html
    assert "MRN-7731" in html
    assert "Spanish" in html
    assert "Verified" in html
    assert "Subscribed" in html
    assert "No delivery problems" in html


def test_an_unverified_number_says_so(staff_a: Any, unverified_channel: PatientChannel) -> None:
    html = panel(page(staff_a, unverified_channel))
    assert "Unverified" in html
    assert "number only" in html


def test_an_opted_out_number_disables_the_composer_with_the_reason(
    staff_a: Any, verified_channel: PatientChannel
) -> None:
    OptOut.objects.create(
        line=verified_channel.line, phone=str(verified_channel.phone), keyword="STOP"
    )

    html = page(staff_a, verified_channel)

    assert "Opted out" in panel(html)
    assert "This number opted out of texts from this line (it texted STOP)" in html
    assert 'aria-describedby="composer-blocked" disabled' in html
    assert 'class="button button-primary composer-send" disabled' in html


def test_an_opt_out_of_another_line_does_not_disable_this_one(
    staff_a: Any, practice_a: Practice, verified_channel: PatientChannel
) -> None:
    other = make_practice(practice_a.enterprise, "Other").lines.get()
    OptOut.objects.create(line=other, phone=str(verified_channel.phone))

    html = page(staff_a, verified_channel)

    assert "Subscribed" in panel(html)
    assert "composer-blocked" not in html


@pytest.mark.parametrize(
    ("error_code", "flag", "blocked"),
    [
        ("landline", "Landline", True),
        ("invalid_number", "Undeliverable", True),
        ("unreachable", "Last text unreachable", False),
    ],
)
def test_delivery_reports_flag_the_number(
    staff_a: Any, verified_channel: PatientChannel, error_code: str, flag: str, blocked: bool
) -> None:
    MessageFactory(channel=verified_channel, status="undelivered", error_code=error_code)

    html = page(staff_a, verified_channel)

    assert flag in panel(html)
    assert ("composer-blocked" in html) is blocked


def test_a_later_delivery_clears_the_flag(staff_a: Any, verified_channel: PatientChannel) -> None:
    old = MessageFactory(channel=verified_channel, status="undelivered", error_code="landline")
    Message.objects.filter(pk=old.pk).update(
        created_at=old.created_at - datetime.timedelta(hours=1)
    )
    MessageFactory(channel=verified_channel, status="delivered")

    html = page(staff_a, verified_channel)

    assert "No delivery problems" in panel(html)
    assert "composer-blocked" not in html


def _elsewhere(practice_a: Practice, channel: PatientChannel) -> PatientChannel:
    """The same patient's conversation in another practice of the enterprise (not staff_a's)."""
    clinic = make_practice(practice_a.enterprise, "Cardiology Clinic")
    return PatientChannelFactory(
        line=clinic.lines.get(), patient=channel.patient, phone=channel.phone
    )


def test_other_conversations_stay_in_the_users_practices_by_default(
    staff_a: Any, practice_a: Practice, verified_channel: PatientChannel
) -> None:
    _elsewhere(practice_a, verified_channel)
    second_line = PatientChannelFactory(
        line=practice_a.lines.create(name="A second", phone_number="+18185559990"),
        patient=verified_channel.patient,
        phone=verified_channel.phone,
    )

    html = panel(page(staff_a, verified_channel))

    assert "Cardiology Clinic" not in html
    assert f'href="/inbox/channels/{second_line.pk}/"' in html


def test_other_conversations_across_the_enterprise_when_it_allows_it(
    staff_a: Any, practice_a: Practice, practice_b: Practice, verified_channel: PatientChannel
) -> None:
    enterprise = practice_a.enterprise
    enterprise.allow_enterprise_patient_access = True
    enterprise.save()
    elsewhere = _elsewhere(practice_a, verified_channel)
    # Another enterprise's conversation with the same number is never shown.
    PatientChannelFactory(line=practice_b.lines.get(), phone=verified_channel.phone)

    html = panel(page(staff_a, verified_channel))

    assert "Cardiology Clinic" in html
    assert "(not your practice)" in html
    assert str(elsewhere.pk) not in html
    assert "Practice B" not in html


def test_the_panel_costs_the_same_with_more_conversations(
    staff_a: Any,
    practice_a: Practice,
    verified_channel: PatientChannel,
    django_assert_max_num_queries: Any,
) -> None:
    client = client_for(staff_a)
    pane = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "thread-pane"}
    client.get(channel_url(verified_channel))
    with django_assert_max_num_queries(45) as few:
        client.get(channel_url(verified_channel), **pane)
    for i in range(5):
        clinic = make_practice(practice_a.enterprise, f"Clinic {i}")
        PatientChannelFactory(
            line=clinic.lines.get(), patient=verified_channel.patient, phone=verified_channel.phone
        )
    practice_a.enterprise.allow_enterprise_patient_access = True
    practice_a.enterprise.save()
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(channel_url(verified_channel), **pane).content.decode()
    assert "Clinic 4" in html
