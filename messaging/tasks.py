"""Celery tasks of the send path: ids in, one service call, idempotent when run twice.

All of them go to the SMS queue (`SMS_CELERY_QUEUE`); workers ack late with prefetch 1, so a
task whose worker dies is not lost from the broker, and the outbox sweeper covers the rest.

The dispatch task lives beside its service (`messaging.dispatch`), and the simulator's report
beside the simulated carrier (`messaging.simulator`), because the code that publishes them is
there too; this module names them for Celery's autodiscovery.
"""

from __future__ import annotations

from celery import shared_task

from . import dispatch, simulator
from .dispatch import EAGER_MAX_ROUNDS, line_dispatch_task, message_dispatch_task
from .schedule import scheduled_release_task
from .simulator import simulator_report_task

__all__ = [
    "EAGER_MAX_ROUNDS",
    "line_dispatch",
    "message_dispatch",
    "outbox_sweep",
    "scheduled_release",
    "simulator_report",
    "simulator_sweep",
]

line_dispatch = line_dispatch_task
message_dispatch = message_dispatch_task  # the previous release's task, for a rolling deploy
simulator_report = simulator_report_task
scheduled_release = scheduled_release_task


@shared_task(name="messaging.tasks.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    return dispatch.outbox_sweep()


@shared_task(name="messaging.tasks.simulator_sweep", ignore_result=True)
def simulator_sweep() -> int:
    if not simulator.simulator_is_on():
        return 0
    return simulator.simulator_report_overdue()
