"""The worker's side of sending: claims, takeovers, per-patient order, pacing, the outbox."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from artera.celery import app as celery_app
from messaging import outbox
from messaging.dispatch import dispatch_enqueue, outbox_sweep
from messaging.models import Message, SimulatorText
from messaging.services import (
    Api,
    DispatchState,
    ToNumber,
    message_dispatch,
    message_send,
)
from messaging.tasks import message_dispatch as message_dispatch_task
from practices.models import Line
from tests.support import free_port
from tests.support.workers import use_broker

pytestmark = pytest.mark.django_db(transaction=True)


def store(line: Line, to: str = "+18185550101", body: str = "Hi") -> Message:
    """Store a message without letting its task run (as if the publish had been lost)."""
    with transaction.atomic():
        message = message_send(to=ToNumber(line.practice, to), sender=Api(), body=body)
        transaction.get_connection().run_on_commit.clear()
    return message


def carried(message: Message) -> int:
    return SimulatorText.objects.filter(client_reference=str(message.pk)).count()


def dispatch(message: Message, max_inline_wait: float | None = None) -> Any:
    return message_dispatch(message_id=message.pk, max_inline_wait=max_inline_wait)


def test_a_duplicated_task_sends_once(line: Line) -> None:
    message = store(line)
    assert message_dispatch_task.apply(args=[str(message.pk)]).get() == "sent"
    assert message_dispatch_task.apply(args=[str(message.pk)]).get() == "done"
    assert dispatch(message).state is DispatchState.DONE
    assert carried(message) == 1
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.send_attempts == 1


def test_another_workers_live_claim_is_left_alone(line: Line) -> None:
    message = store(line)
    Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now(), send_attempts=1)
    assert dispatch(message).state is DispatchState.DONE
    assert carried(message) == 0


def _claimed_by_a_dead_worker(message: Message, settings: Any) -> None:
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.SMS_CLAIM_LEASE_SECONDS + 1)
    Message.objects.filter(pk=message.pk).update(claimed_at=long_ago, send_attempts=1)


def test_takeover_does_not_resend_what_the_provider_already_has(line: Line, settings: Any) -> None:
    """The dead worker got the text to the carrier but died before recording it."""
    message = store(line)
    _claimed_by_a_dead_worker(message, settings)
    earlier = SimulatorText.objects.create(
        direction="mt",
        from_number=message.from_number,
        to_number=message.to_number,
        body=message.body,
        client_reference=str(message.pk),
    )
    assert dispatch(message).state is DispatchState.SENT
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", str(earlier.pk))
    assert message.send_attempts == 2
    assert carried(message) == 1


def test_takeover_sends_what_the_provider_never_got(line: Line, settings: Any) -> None:
    message = store(line)
    _claimed_by_a_dead_worker(message, settings)
    assert dispatch(message).state is DispatchState.SENT
    assert carried(message) == 1


def test_a_patients_texts_keep_their_order(line: Line) -> None:
    first = store(line, body="first")
    second = store(line, body="second")
    other_patient = store(line, to="+18185550102", body="other")
    # The second text's task runs first: it waits for the first one.
    outcome = dispatch(second)
    assert outcome.state is DispatchState.DEFERRED
    assert outcome.retry_in is not None
    assert outcome.retry_in > 0
    assert carried(second) == 0
    # Someone else's text is not held up.
    assert dispatch(other_patient).state is DispatchState.SENT
    assert dispatch(first).state is DispatchState.SENT
    assert dispatch(second).state is DispatchState.SENT
    bodies = list(
        SimulatorText.objects.filter(to_number="+18185550101")
        .order_by("created_at")
        .values_list("body", flat=True)
    )
    assert bodies == ["first", "second"]


def test_a_long_pacing_wait_gives_the_claim_back(make_line: Callable[..., Line]) -> None:
    line = make_line(rate="0.5")  # one text every 2 seconds
    first = store(line, to="+18185550101")
    second = store(line, to="+18185550102")
    assert dispatch(first, max_inline_wait=0).state is DispatchState.SENT
    outcome = dispatch(second, max_inline_wait=0)
    assert outcome.state is DispatchState.DEFERRED
    assert outcome.retry_in is not None
    assert 0 < outcome.retry_in <= 2
    second.refresh_from_db()
    assert (second.status, second.claimed_at, second.send_attempts) == ("received", None, 0)
    assert carried(second) == 0


def test_sweeper_re_enqueues_due_messages_only(line: Line, settings: Any) -> None:
    lost = store(line, to="+18185550101")
    fresh = store(line, to="+18185550102")
    working = store(line, to="+18185550103")
    past = timezone.now() - datetime.timedelta(seconds=1)
    Message.objects.filter(pk=lost.pk).update(outbox_due_at=past)
    Message.objects.filter(pk=working.pk).update(
        outbox_due_at=timezone.now() + datetime.timedelta(seconds=60), claimed_at=timezone.now()
    )
    assert outbox_sweep() == 1
    for message, status in ((lost, "delivered"), (fresh, "received"), (working, "received")):
        message.refresh_from_db()
        assert message.status == status
    assert outbox_sweep() == 0


# --- Broker unreachable -------------------------------------------------------------------------


@pytest.fixture
def unreachable_broker() -> Iterator[None]:
    """Publish to a port nobody listens on: a stopped broker."""
    broker_url = celery_app.conf.broker_url
    use_broker(f"redis://127.0.0.1:{free_port()}/0")
    celery_app.conf.task_always_eager = False
    yield
    use_broker(broker_url)
    celery_app.conf.task_always_eager = True
    outbox.broker_backoff_reset()


@pytest.mark.usefixtures("unreachable_broker")
def test_broker_down_send_returns_quickly_and_the_sweeper_delivers(
    line: Line, settings: Any
) -> None:
    started = time.monotonic()
    message = message_send(to=ToNumber(line.practice, "+18185550101"), sender=Api(), body="Hi")
    elapsed = time.monotonic() - started
    assert elapsed < 2, f"send took {elapsed:.2f}s with the broker down"
    message.refresh_from_db()
    assert message.status == "received"
    # The next send does not even try the broker for a while.
    assert not dispatch_enqueue(message.pk)

    # The broker is back (here: tasks in-process), and the sweeper finds the message once due.
    celery_app.conf.task_always_eager = True
    outbox.broker_backoff_reset()
    assert outbox_sweep() == 0  # not due yet
    Message.objects.filter(pk=message.pk).update(
        outbox_due_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert outbox_sweep() == 1
    message.refresh_from_db()
    assert message.status == "delivered"
    assert carried(message) == 1
