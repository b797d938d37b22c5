"""Celery tasks of outbound webhooks (queue `artera-webhooks`): ids in, one service call, safe
to run twice."""

from __future__ import annotations

from celery import shared_task

from . import delivery
from .delivery import webhook_deliver, webhook_deliver_first

__all__ = ["webhook_deliver", "webhook_deliver_first", "webhook_deliveries_sweep"]


@shared_task(name="webhooks.tasks.webhook_deliveries_sweep", ignore_result=True)
def webhook_deliveries_sweep() -> int:
    return delivery.webhook_deliveries_sweep()
