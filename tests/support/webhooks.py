"""Helpers of the outbound webhooks' tests: the patient and text they send, and the sweep that
makes a scheduled retry happen now."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from webhooks.delivery import webhook_deliveries_sweep
from webhooks.models import WebhookDelivery

PATIENT = "+18185550101"
BODY = "Your lab results are ready: glucose 212 mg/dL"


def make_due(delivery: WebhookDelivery) -> None:
    """Pretend the time until the next attempt has passed (the schedule is in the database)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=1)
    )


def sweep(run: Callable[..., Any]) -> int:
    return int(run(webhook_deliveries_sweep))
