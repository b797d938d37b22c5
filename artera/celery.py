"""The Celery application: `celery -A artera worker` and `celery -A artera beat`.

With no `-Q`, a worker consumes every queue the project routes to (`CELERY_TASK_QUEUES` in
settings: `artera-sms`, `artera-webhooks`, `artera-default`); `-Q` splits them across workers.
"""

import os
from typing import Any

from celery import Celery, Task, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artera.settings")

app = Celery("artera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
def _database_connections_checked(sender: Task | None = None, **kwargs: Any) -> None:
    """Before each task, do what Django does before each request: drop a connection that had
    errors or outlived `CONN_MAX_AGE`, and health-check the reused one on its first query.

    Celery keeps connections across tasks (`CELERY_DB_REUSE_MAX`) but never asks Django whether
    they still work, so after PostgreSQL restarts a worker would reuse its dead connections for
    every task and sweep ("the connection is closed") and send nothing until it is restarted.
    Eager tasks run inside a web request, whose connection the request cycle already manages
    (and may be inside a transaction): left alone.
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    close_old_connections()
