"""The Celery application: `celery -A artera worker` and `celery -A artera beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artera.settings")

app = Celery("artera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
