from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from inbox.views import SignOutView

urlpatterns = [
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    # Sign-out also clears what the browser kept (Clear-Site-Data); the rest is Django's.
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("inbox.urls")),
    path("", include("insights.urls")),
    path("", include("messaging.urls")),
    # /oauth/token/ and /api/ (MAPI, SMAPI, the OpenAPI schema and docs).
    path("", include("webhooks.urls")),
    path("", include("webhooks.urls_call_to_text")),  # /webhook/call-to-text/<token>/ (+ alias)
]

# Errors no view handled: JSON under /api/, /oauth/ and /webhook/, Django's pages elsewhere; a
# database that cannot be reached is a 503, wherever in the request it fails.
handler400 = "artera.api.bad_request"
handler403 = "artera.api.permission_denied"
handler404 = "artera.api.page_not_found"
handler500 = "artera.api.server_error"
