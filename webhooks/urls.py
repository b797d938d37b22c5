"""Integrator-facing URLs: the OAuth token endpoint, MAPI, SMAPI, and the API's docs.

Anything else under /oauth/ or /api/ is a JSON 404 (never Django's HTML page).
"""

from django.urls import path, re_path

from artera.api import api_not_found

from .api import views
from .api.oauth import TokenView

urlpatterns = [
    path("oauth/token/", TokenView.as_view(), name="oauth-token"),
    re_path(r"^oauth/", api_not_found),
    path("api/v1/messages", views.MessageCreateView.as_view(), name="api-messages"),
    # Before the detail's route, which would take "batch" for a message id.
    path(
        "api/v1/messages/batch",
        views.MessageBatchCreateView.as_view(),
        name="api-messages-batch",
    ),
    path(
        "api/v1/messages/<str:message_id>",
        views.MessageDetailView.as_view(),
        name="api-message-detail",
    ),
    path("api/smapi/v1/messages", views.SmapiMessageCreateView.as_view(), name="smapi-messages"),
    path("api/schema/", views.ApiSchemaView.as_view(), name="api-schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),
]
