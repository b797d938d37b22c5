from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("channels_app.urls")),
    path("", include("messaging.urls")),
    # /oauth/token/ and /api/ (MAPI, SMAPI, the OpenAPI schema and docs).
    path("", include("webhooks.urls")),
    path("", include("webhooks.urls_call_to_text")),  # /webhook/call-to-text/<token>/ (+ alias)
]
