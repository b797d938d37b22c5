"""The first inbox page: a staff member sees the channels of their practices and nothing else."""

from __future__ import annotations

from django.test import Client

from channels_app.models import PatientChannel
from practices.models import Membership
from tests.factories import (
    TEST_PASSWORD,
    LineFactory,
    MembershipFactory,
    MessageFactory,
    PatientChannelFactory,
    PatientFactory,
    PracticeFactory,
)
from tests.support import client_for


def _channel(practice, **kwargs) -> PatientChannel:  # type: ignore[no-untyped-def]
    return PatientChannelFactory(line=practice.lines.get(), **kwargs)


def test_staff_sees_their_practice_channels_newest_first(staff_a, practice_a) -> None:  # type: ignore[no-untyped-def]
    patient = PatientFactory(enterprise=practice_a.enterprise, first_name="Ana", last_name="Lopez")
    older = _channel(practice_a, patient=patient)
    newer = _channel(practice_a)
    MessageFactory(channel=older, body="See you Tuesday")
    MessageFactory(channel=newer, body="Reply YES to confirm")
    PatientChannel.objects.filter(pk=older.pk).update(
        last_activity_at=newer.last_activity_at.replace(year=2020)
    )

    response = client_for(staff_a).get("/inbox/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Ana Lopez" in content
    assert "See you Tuesday" in content
    assert content.index("Reply YES to confirm") < content.index("See you Tuesday")


def test_staff_of_another_practice_sees_none_of_its_channels(  # type: ignore[no-untyped-def]
    staff_a, staff_b, practice_a, practice_b
) -> None:
    a_patient = PatientFactory(
        enterprise=practice_a.enterprise, first_name="Alice", last_name="Aardvark"
    )
    _channel(practice_a, patient=a_patient)
    b_patient = PatientFactory(
        enterprise=practice_b.enterprise, first_name="Bob", last_name="Brook"
    )
    _channel(practice_b, patient=b_patient)

    page_b = client_for(staff_b).get("/inbox/?status=all").content.decode()
    page_a = client_for(staff_a).get("/inbox/?status=all").content.decode()

    assert "Bob Brook" in page_b
    assert "Alice Aardvark" not in page_b
    assert "Alice Aardvark" in page_a
    assert "Bob Brook" not in page_a


def test_practice_filter_cannot_reach_another_practice(staff_b, practice_a, practice_b) -> None:  # type: ignore[no-untyped-def]
    a_patient = PatientFactory(
        enterprise=practice_a.enterprise, first_name="Alice", last_name="Aardvark"
    )
    _channel(practice_a, patient=a_patient)

    response = client_for(staff_b).get(f"/inbox/?status=all&practice={practice_a.id}")

    assert response.status_code == 200
    assert "Alice Aardvark" not in response.content.decode()


def test_same_enterprise_other_practice_is_not_visible_either(staff_a, practice_a) -> None:  # type: ignore[no-untyped-def]
    sibling = PracticeFactory(enterprise=practice_a.enterprise, name="Sibling Clinic")
    LineFactory(practice=sibling)
    patient = PatientFactory(enterprise=practice_a.enterprise, first_name="Sib", last_name="Ling")
    _channel(sibling, patient=patient)

    assert "Sib Ling" not in client_for(staff_a).get("/inbox/?status=all").content.decode()


def test_status_filter(staff_a, practice_a) -> None:  # type: ignore[no-untyped-def]
    open_patient = PatientFactory(
        enterprise=practice_a.enterprise, first_name="Open", last_name="One"
    )
    closed_patient = PatientFactory(
        enterprise=practice_a.enterprise, first_name="Closed", last_name="One"
    )
    _channel(practice_a, patient=open_patient)
    _channel(practice_a, patient=closed_patient, status=PatientChannel.Status.CLOSED)
    client = client_for(staff_a)

    default = client.get("/inbox/").content.decode()
    closed = client.get("/inbox/?status=closed").content.decode()
    everything = client.get("/inbox/?status=all").content.decode()
    nonsense = client.get("/inbox/?status=<script>&practice=not-a-uuid")

    assert "Open One" in default
    assert "Closed One" not in default
    assert "Closed One" in closed
    assert "Open One" not in closed
    assert "Open One" in everything
    assert "Closed One" in everything
    assert nonsense.status_code == 200


def test_multi_practice_user_sees_both(practice_a) -> None:  # type: ignore[no-untyped-def]
    sibling = PracticeFactory(enterprise=practice_a.enterprise, name="Sibling Clinic")
    LineFactory(practice=sibling)
    membership = MembershipFactory(practice=practice_a)
    Membership.objects.create(user=membership.user, practice=sibling)
    _channel(
        practice_a,
        patient=PatientFactory(enterprise=practice_a.enterprise, first_name="In", last_name="A"),
    )
    _channel(
        sibling,
        patient=PatientFactory(
            enterprise=practice_a.enterprise, first_name="In", last_name="Sibling"
        ),
    )

    client = client_for(membership.user)
    content = client.get("/inbox/").content.decode()
    only_sibling = client.get(f"/inbox/?practice={sibling.id}").content.decode()

    assert "In A" in content
    assert "In Sibling" in content
    assert "In Sibling" in only_sibling
    assert "In A" not in only_sibling


def test_inbox_query_count_does_not_grow_with_channels(  # type: ignore[no-untyped-def]
    staff_a, practice_a, django_assert_max_num_queries
) -> None:
    client = client_for(staff_a)
    for _ in range(3):
        MessageFactory(
            channel=_channel(practice_a, patient=PatientFactory(enterprise=practice_a.enterprise))
        )
    with django_assert_max_num_queries(12) as few:
        client.get("/inbox/")
    for _ in range(20):
        MessageFactory(
            channel=_channel(practice_a, patient=PatientFactory(enterprise=practice_a.enterprise))
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/inbox/")


def test_user_without_practice_sees_guidance(db: None) -> None:
    from tests.factories import UserFactory

    response = client_for(UserFactory()).get("/inbox/")

    assert "not part of a practice yet" in response.content.decode()


def test_signing_in_through_the_form_lands_on_the_inbox(staff_a) -> None:  # type: ignore[no-untyped-def]
    response = Client().post(
        "/accounts/login/", {"username": "staff_a", "password": TEST_PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == "/inbox/"
    assert b">Inbox</h1>" in response.content


def test_wrong_password_shows_a_form_error(staff_a) -> None:  # type: ignore[no-untyped-def]
    response = Client().post("/accounts/login/", {"username": "staff_a", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
