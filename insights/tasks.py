"""The Insights beat task: keeps the daily rollups current (`insights.rollup.rollup_run`)."""

from __future__ import annotations

from celery import shared_task
from django.db import connection

from . import rollup


@shared_task(name="insights.tasks.insights_rollup", ignore_result=True)
def insights_rollup() -> dict[str, int]:
    if connection.vendor != "postgresql":
        return {}  # the rollup SQL is PostgreSQL's; the zero-setup SQLite run has no Insights
    return rollup.rollup_run()
