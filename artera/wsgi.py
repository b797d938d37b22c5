"""WSGI entry point: `gunicorn artera.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artera.settings")

application = get_wsgi_application()
