"""Celery tasks of the send path: ids in, one service call, idempotent when run twice.

All of them go to the SMS queue (`SMS_CELERY_QUEUE`); workers ack late with prefetch 1, so a
task whose worker dies is not lost from the broker, and the outbox sweeper covers the rest.
"""

from __future__ import annotations

import time
import uuid

from celery import Task, shared_task
from django.conf import settings

from . import outbox, services, simulator
from .outbox import task_publish

# When tasks run in-process (no broker), a deferred send waits in place instead; bounded so a
# message stuck behind a lost predecessor cannot hold a request forever (the sweeper has it).
EAGER_MAX_ROUNDS = 20


@shared_task(name="messaging.tasks.message_dispatch", bind=True, ignore_result=True)
def message_dispatch(self: Task[[str], str], message_id: str) -> str:
    eager = bool(self.request.is_eager)
    max_inline_wait = None if eager else settings.SMS_PACING_MAX_INLINE_WAIT
    for _ in range(EAGER_MAX_ROUNDS if eager else 1):
        outcome = services.message_dispatch(
            message_id=uuid.UUID(message_id), max_inline_wait=max_inline_wait
        )
        if outcome.retry_in is None:
            return outcome.state.value
        if not eager:
            task_publish(message_dispatch, message_id, countdown=outcome.retry_in)
            return outcome.state.value
        time.sleep(outcome.retry_in)
    return services.DispatchState.DEFERRED.value


@shared_task(name="messaging.tasks.simulator_report", ignore_result=True)
def simulator_report(text_id: str) -> bool:
    return simulator.simulator_report(text_id=uuid.UUID(text_id))


@shared_task(name="messaging.tasks.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    return outbox.outbox_sweep()


@shared_task(name="messaging.tasks.simulator_sweep", ignore_result=True)
def simulator_sweep() -> int:
    if not simulator.simulator_is_on():
        return 0
    return simulator.simulator_report_overdue()
