from django.urls import path

from . import portal_views, views

urlpatterns = [
    path("s/<str:code>", views.short_link_redirect, name="short-link"),
    # Every provider's callbacks, e.g. /webhooks/sms/twilio/ (see messaging.gateways.base).
    path("webhooks/sms/<slug:backend>/", views.sms_inbound, name="sms-inbound"),
    path("webhooks/sms/<slug:backend>/status/", views.sms_status, name="sms-status"),
    path("simulator/", views.simulator_page, name="simulator"),
    path("simulator/thread/", views.simulator_thread, name="simulator-thread"),
    path("simulator/reply/", views.simulator_reply, name="simulator-reply"),
    path("simulator/number-type/", views.simulator_number_type, name="simulator-number-type"),
    path("simulator/api/messages", views.simulator_api_messages, name="simulator-api-messages"),
    path("simulator/api/inbound", views.simulator_api_inbound, name="simulator-api-inbound"),
    path("simulator/api/numbers", views.simulator_api_numbers, name="simulator-api-numbers"),
]

# The secure messaging portal (messaging.portal_views).
urlpatterns += [
    path("secure/<str:token>/", portal_views.portal_start, name="secure-start"),
    path("secure/<str:token>/code/", portal_views.portal_code, name="secure-code"),
    path(
        "secure/<str:token>/code/resend/",
        portal_views.portal_code_resend,
        name="secure-code-resend",
    ),
    path("secure/<str:token>/thread/", portal_views.portal_thread, name="secure-thread"),
    path("secure/<str:token>/leave/", portal_views.portal_leave, name="secure-leave"),
]
