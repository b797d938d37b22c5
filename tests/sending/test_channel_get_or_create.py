"""`channel_get_or_create`: one conversation per line and number (or patient), however many
senders ask for it at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from artera.db import insert_unless_conflict
from channels_app.models import PatientChannel
from channels_app.services import channel_get_or_create
from practices.models import Practice
from tests.factories import LineFactory, PatientFactory, PracticeFactory

NUMBER = "+18185550778"

pytestmark = pytest.mark.django_db


def _practice() -> Practice:
    practice = PracticeFactory()
    LineFactory(practice=practice)
    return practice


def test_the_second_ask_gets_the_same_channel() -> None:
    practice = _practice()
    line = practice.lines.get()
    first = channel_get_or_create(practice=practice, line=line, phone=NUMBER)
    again = channel_get_or_create(practice=practice, line=line, phone=NUMBER)
    assert again.pk == first.pk
    assert PatientChannel.objects.count() == 1


def test_a_verified_patient_and_the_bare_number_are_two_channels() -> None:
    practice = _practice()
    line = practice.lines.get()
    patient = PatientFactory(enterprise=practice.enterprise, mrn="M1", is_verified=True)
    bare = channel_get_or_create(practice=practice, line=line, phone=NUMBER)
    verified = channel_get_or_create(practice=practice, line=line, phone=NUMBER, patient=patient)
    assert bare.pk != verified.pk
    assert verified.patient == patient


def test_insert_unless_conflict_reports_a_conflict_and_keeps_the_transaction_usable() -> None:
    practice = _practice()
    line = practice.lines.get()
    with transaction.atomic():
        first = PatientChannel(practice=practice, line=line, phone=NUMBER)
        assert insert_unless_conflict(first) is True
        duplicate = PatientChannel(practice=practice, line=line, phone=NUMBER)
        assert insert_unless_conflict(duplicate) is False
        # No error was raised inside the transaction: it goes on.
        assert PatientChannel.objects.filter(phone=NUMBER).count() == 1
    assert PatientChannel.objects.get().pk == first.pk
    first.status = PatientChannel.Status.CLOSED
    first.save(update_fields=["status"])  # an inserted instance is a saved one
    assert PatientChannel.objects.get().status == PatientChannel.Status.CLOSED


def test_insert_unless_conflict_needs_a_primary_key() -> None:
    practice = _practice()
    channel = PatientChannel(practice=practice, line=practice.lines.get(), phone=NUMBER)
    channel.pk = None
    with pytest.raises(ValueError, match="primary key"):
        insert_unless_conflict(channel)


@pytest.mark.django_db(transaction=True)
def test_concurrent_asks_make_one_channel() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    practice = _practice()
    line = practice.lines.get()
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    ids: list[object] = []
    lock = threading.Lock()

    def ask() -> None:
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                channel = channel_get_or_create(practice=practice, line=line, phone=NUMBER)
            with lock:
                ids.append(channel.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(ids) == threads_count
    assert len(set(ids)) == 1
    assert PatientChannel.objects.filter(phone=NUMBER).count() == 1
