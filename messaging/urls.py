from django.urls import path

from . import views

urlpatterns = [
    path("s/<str:code>", views.short_link_redirect, name="short-link"),
    path("webhooks/sms/twilio/", views.twilio_inbound, name="twilio-inbound"),
    path("webhooks/sms/twilio/status/", views.twilio_status, name="twilio-status"),
    path("simulator/", views.simulator_page, name="simulator"),
    path("simulator/thread/", views.simulator_thread, name="simulator-thread"),
    path("simulator/reply/", views.simulator_reply, name="simulator-reply"),
    path("simulator/number-type/", views.simulator_number_type, name="simulator-number-type"),
    path("simulator/api/messages", views.simulator_api_messages, name="simulator-api-messages"),
    path("simulator/api/inbound", views.simulator_api_inbound, name="simulator-api-inbound"),
    path("simulator/api/numbers", views.simulator_api_numbers, name="simulator-api-numbers"),
]
