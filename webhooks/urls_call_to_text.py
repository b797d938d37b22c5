"""Call-to-text URLs (DESIGN.md): `/webhook/call-to-text/<token>/` and its alias
`/webhook/jive/<token>/`, with or without the trailing slash (phone systems get it wrong), and
a JSON 404 for anything else under `/webhook/`."""

from django.urls import re_path

from .call_to_text import call_to_text_hook, webhook_not_found

urlpatterns = [
    re_path(r"^webhook/call-to-text/(?P<token>[^/]+)/?$", call_to_text_hook, name="call-to-text"),
    re_path(r"^webhook/jive/(?P<token>[^/]+)/?$", call_to_text_hook, name="call-to-text-jive"),
    re_path(r"^webhook/", webhook_not_found),
]
