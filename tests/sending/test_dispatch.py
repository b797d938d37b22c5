"""The worker's side of sending: claims, takeovers, per-patient order, pacing, the outbox."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from artera.celery import app as celery_app
from messaging import dispatch as dispatch_module
from messaging import outbox
from messaging.dispatch import line_dispatch_enqueue, outbox_sweep
from messaging.models import Message, SimulatorText
from messaging.services import Api, LineDispatch, ToNumber, line_dispatch, message_send
from messaging.tasks import line_dispatch as line_dispatch_task
from messaging.tasks import message_dispatch
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


def dispatch(line: Line, max_inline_wait: float | None = None) -> LineDispatch:
    return line_dispatch(line_id=line.pk, max_inline_wait=max_inline_wait)


def test_a_duplicated_task_sends_once(line: Line) -> None:
    message = store(line)
    assert line_dispatch_task.apply(args=[str(line.pk)]).get() == 1
    assert line_dispatch_task.apply(args=[str(line.pk)]).get() == 0
    assert dispatch(line) == LineDispatch()
    assert carried(message) == 1
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.send_attempts == 1


def test_one_batch_claims_the_lines_due_texts_and_records_them_together(
    line: Line, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    """The statements of a batch do not grow with its size: claim, hand-over and record are
    one set of statements for 3 texts or for 30."""
    counts = []
    for size in (3, 30):
        messages = [store(line, to=f"+1818555{index:04d}") for index in range(size)]
        with CaptureQueriesContext(connection) as queries:
            done = dispatch(line)
        assert (done.claimed, done.sent, done.failed) == (size, size, 0)
        counts.append(len(queries))
        for message in messages:
            message.refresh_from_db()
            assert message.status == "delivered"
            assert message.send_attempts == 1
    assert counts[0] == counts[1], counts


def test_a_batch_is_bounded_by_what_the_lines_pace_lets_out(
    make_line: Callable[..., Line],
) -> None:
    line = make_line(rate="2")
    for index in range(5):
        store(line, to=f"+1818555{index:04d}")
    done = dispatch(line, max_inline_wait=1.0)
    assert done.claimed == 3  # now, in 0.5 s and in 1 s
    assert Message.objects.filter(line=line, status="received").count() == 2


def test_another_workers_live_claim_is_left_alone(line: Line) -> None:
    message = store(line)
    Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now(), send_attempts=1)
    assert dispatch(line).claimed == 0
    assert carried(message) == 0


def test_texts_another_worker_is_claiming_are_skipped_not_waited_for(line: Line) -> None:
    """PostgreSQL's SKIP LOCKED: while one worker's claim statement holds a row, another worker
    takes the other texts at once."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    held, free = store(line, to="+18185550101"), store(line, to="+18185550102")
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM messaging_message WHERE id = %s FOR UPDATE", [held.pk])
            done = dispatch(line)
        other.rollback()
    finally:
        other.close()
    assert done.claimed == 1
    assert (carried(held), carried(free)) == (0, 1)
    assert dispatch(line).claimed == 1
    assert carried(held) == 1


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
    assert dispatch(line).sent == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", str(earlier.pk))
    assert message.send_attempts == 2
    assert carried(message) == 1


def test_takeover_sends_what_the_provider_never_got(line: Line, settings: Any) -> None:
    message = store(line)
    _claimed_by_a_dead_worker(message, settings)
    assert dispatch(line).sent == 1
    assert carried(message) == 1


def test_a_patients_texts_keep_their_order(line: Line) -> None:
    first = store(line, body="first")
    second = store(line, body="second")
    other_patient = store(line, to="+18185550102", body="other")
    # The second text waits for the first one: not in the same batch.
    assert dispatch(line).sent == 2
    assert (carried(first), carried(second), carried(other_patient)) == (1, 0, 1)
    assert dispatch(line).sent == 1
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
    assert dispatch(line, max_inline_wait=0).sent == 1
    assert carried(first) == 1
    done = dispatch(line, max_inline_wait=0)
    assert (done.claimed, done.sent) == (1, 0)
    assert done.retry_in is not None
    assert 0 < done.retry_in <= 2
    second.refresh_from_db()
    assert (second.status, second.claimed_at, second.send_attempts) == ("received", None, 0)
    assert carried(second) == 0
    # Given back until its slot: the next look finds nothing yet.
    assert dispatch(line, max_inline_wait=0).claimed == 0


def test_sweeper_re_enqueues_the_lines_of_due_messages_only(
    line: Line, make_line: Callable[..., Line]
) -> None:
    quiet = make_line()
    lost = store(line, to="+18185550101")
    working = store(line, to="+18185550103")
    fresh = store(quiet, to="+18185550102")
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


def test_one_transaction_publishes_each_line_once(
    line: Line, make_line: Callable[..., Line], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MAPI batch stores hundreds of texts in one transaction: one task per line. A text
    stored in a savepoint that rolled back publishes nothing."""
    other = make_line()
    published: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        dispatch_module, "task_publish", lambda task, *args, **kwargs: published.append(args)
    )

    def send(on: Line, to: str) -> None:
        message_send(to=ToNumber(on.practice, to, line=on), sender=Api(), body="Hi")

    with transaction.atomic():
        try:
            with transaction.atomic():
                send(other, "+18185550109")
                raise RuntimeError("this item failed")
        except RuntimeError:
            pass
        for index in range(5):
            send(line, f"+1818555{index:04d}")
        assert published == []
    assert published == [(str(line.pk),)]

    with transaction.atomic():
        send(line, "+18185550201")
        with transaction.atomic():
            send(other, "+18185550202")
        send(line, "+18185550203")
    assert published[1:] == [(str(line.pk),), (str(other.pk),)]


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
    assert not line_dispatch_enqueue(line.pk)

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


def test_a_lines_new_task_gathers_and_one_queued_task_is_enough(
    line: Line, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """With a broker: the first text of a line publishes a task that starts a moment later
    (texts of the next requests join its batch); the texts stored while it is queued publish
    nothing; once it runs, the next text publishes again."""
    if not settings.SMS_PACING_REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL=redis://…")
    published: list[float | None] = []
    monkeypatch.setattr(
        dispatch_module,
        "task_publish",
        lambda task, *args, countdown=None: published.append(countdown) or True,
    )
    celery_app.conf.task_always_eager = False
    try:
        dispatch_module.line_dispatch_started(line.pk)  # no flag left by another test
        for _ in range(3):
            assert line_dispatch_enqueue(line.pk)
        assert published == [settings.SMS_DISPATCH_GATHER_SECONDS]
        dispatch_module.line_dispatch_started(line.pk)  # the task runs
        assert line_dispatch_enqueue(line.pk)
        assert line_dispatch_enqueue(line.pk, again=True)  # its continuation: at once
        assert published[1:] == [settings.SMS_DISPATCH_GATHER_SECONDS, None]
    finally:
        celery_app.conf.task_always_eager = True
        dispatch_module.line_dispatch_started(line.pk)


def test_a_task_of_the_previous_release_still_sends_its_message(line: Line) -> None:
    """During a rolling deploy the queue may still hold one-message dispatch tasks."""
    message = store(line)
    assert message_dispatch.apply(args=[str(message.pk)]).get() == 1
    message.refresh_from_db()
    assert message.status == "delivered"
    assert carried(message) == 1
