"""Periodic jobs of the integrator API (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from .idempotency import idempotency_keys_purge as purge


@shared_task(name="webhooks.api.tasks.idempotency_keys_purge", ignore_result=True)
def idempotency_keys_purge() -> int:
    return purge()
