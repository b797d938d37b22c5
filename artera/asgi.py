"""ASGI entry point: the site's HTTP pages and the inbox's live socket (`/ws/inbox/`).

Served by uvicorn (`uvicorn artera.asgi:application`, see the README): next to gunicorn for
`/ws/` only, or for everything. A socket is authenticated by the session cookie, and its Origin
must be one of ALLOWED_HOSTS, so another site's page cannot open one with the user's cookie.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "artera.settings")

# Django first: the routing below imports models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from inbox.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
