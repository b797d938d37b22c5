"""Celery tasks of outbound webhooks (queue `artera-webhooks`): ids in, one service call, safe
to run twice."""

from __future__ import annotations

import uuid

from celery import shared_task

from . import delivery


@shared_task(name="webhooks.tasks.webhook_deliver", ignore_result=True)
def webhook_deliver(delivery_id: str, attempt_count: int) -> str:
    return delivery.webhook_delivery_attempt(
        delivery_id=uuid.UUID(delivery_id), attempt_count=int(attempt_count)
    )


@shared_task(name="webhooks.tasks.webhook_deliveries_sweep", ignore_result=True)
def webhook_deliveries_sweep() -> int:
    return delivery.webhook_deliveries_sweep()
