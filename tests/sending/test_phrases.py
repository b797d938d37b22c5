"""Smart phrases are filled in when a message is sent; a missing value renders blank."""

from __future__ import annotations

import pytest

from messaging.phrases import phrases_render
from messaging.services import Api, ToNumber, message_send
from practices.models import Line, SmartPhrase
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def render(line: Line, text: str, **kwargs: object) -> str:
    return phrases_render(text=text, practice=line.practice, line=line, **kwargs)  # type: ignore[arg-type]


def test_general_phrases(line: Line) -> None:
    line.practice.enterprise.name = "Acme Health"
    text = render(line, "{practiceName} ({enterpriseName}) on {lineName}: call {linePhone}")
    number = line.phone_number.as_e164
    expected_phone = f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    assert text == f"{line.practice.name} (Acme Health) on {line.name}: call {expected_phone}"


def test_patient_and_staff_phrases(line: Line) -> None:
    patient = PatientFactory(first_name="Ana", last_name="Lima")
    staff = UserFactory(first_name="Dana", last_name="Cole")
    text = render(
        line,
        "Hi {patientFirstName} ({patientFullName}), this is {staffFullName}.",
        patient=patient,
        staff=staff,
    )
    assert text == "Hi Ana (Ana Lima), this is Dana Cole."


def test_missing_values_render_blank(line: Line) -> None:
    assert render(line, "Hi {patientFirstName}, from {staffFirstName}.") == "Hi , from ."


def test_unknown_tokens_and_plain_braces_are_left_alone(line: Line) -> None:
    assert render(line, "Code {notAPhrase} and {} and {1x}") == "Code {notAPhrase} and {} and {1x}"


def test_custom_phrases_personal_shadows_general(line: Line) -> None:
    enterprise = line.practice.enterprise
    dana = UserFactory(first_name="Dana")
    other = UserFactory()
    SmartPhrase.objects.create(
        enterprise=enterprise, name="signoff", text="The {practiceName} team"
    )
    SmartPhrase.objects.create(
        enterprise=enterprise, owner=dana, name="signoff", text="{staffFirstName}"
    )
    SmartPhrase.objects.create(enterprise=enterprise, owner=other, name="mine", text="not yours")
    assert render(line, "— {signoff}") == f"— The {line.practice.name} team"
    assert render(line, "— {signoff}", staff=dana) == "— Dana"
    assert render(line, "{mine}", staff=dana) == "{mine}"


def test_another_enterprises_phrases_are_not_used(line: Line, make_line: object) -> None:
    foreign = make_line()  # type: ignore[operator]
    SmartPhrase.objects.create(enterprise=foreign.practice.enterprise, name="secret", text="x")
    assert render(line, "{secret}") == "{secret}"


def test_no_query_without_tokens(line: Line, django_assert_num_queries: object) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert render(line, "Plain text") == "Plain text"


def test_send_stores_the_rendered_body(line: Line) -> None:
    patient = PatientFactory(enterprise=line.practice.enterprise, first_name="Ana")
    message = message_send(
        to=ToNumber(line.practice, "+18185550101", patient=patient),
        sender=Api(),
        body="Hi {patientFirstName}, see you at {practiceName}.",
    )
    assert message.body == f"Hi Ana, see you at {line.practice.name}."


def test_rendering_to_nothing_is_an_empty_body(line: Line) -> None:
    from artera.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        message_send(
            to=ToNumber(line.practice, "+18185550101"), sender=Api(), body="{patientFirstName}"
        )
    assert caught.value.code == "empty_body"
