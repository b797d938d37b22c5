from django.urls import path

from . import live_views, send_later, views

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/live/", views.inbox_live, name="inbox-live"),
    path("inbox/counts/", live_views.inbox_counts, name="inbox-counts"),
    path("inbox/session/", views.session_status, name="session-status"),
    path("inbox/start/", views.conversation_start, name="conversation-start"),
    path("inbox/new/", views.conversation_new, name="conversation-new"),
    path("inbox/mentions/", views.mentions, name="mentions"),
    path("inbox/phrases/", views.smart_phrases, name="smart-phrases"),
    path("inbox/phrases/<int:phrase_id>/", views.smart_phrases, name="smart-phrase"),
    path(
        "inbox/practices/<str:practice_id>/quick-responses/",
        views.quick_responses,
        name="quick-responses",
    ),
    path(
        "inbox/practices/<str:practice_id>/quick-responses/<int:response_id>/",
        views.quick_responses,
        name="quick-response",
    ),
    path("inbox/channels/<str:channel_id>/", views.channel_detail, name="channel"),
    path("inbox/channels/<str:channel_id>/live/", views.channel_live, name="channel-live"),
    path("inbox/channels/<str:channel_id>/older/", views.channel_older, name="channel-older"),
    path(
        "inbox/channels/<str:channel_id>/presence/",
        views.channel_presence,
        name="channel-presence",
    ),
    path("inbox/channels/<str:channel_id>/send/", views.channel_send, name="channel-send"),
    path(
        "inbox/channels/<str:channel_id>/send-later/",
        send_later.channel_send_later,
        name="channel-send-later",
    ),
    path(
        "inbox/channels/<str:channel_id>/scheduled/<str:message_id>/cancel/",
        send_later.channel_scheduled_cancel,
        name="channel-scheduled-cancel",
    ),
    path("inbox/channels/<str:channel_id>/notes/", views.channel_note, name="channel-note"),
    path("inbox/channels/<str:channel_id>/status/", views.channel_status, name="channel-status"),
    path("inbox/channels/<str:channel_id>/assign/", views.channel_assign, name="channel-assign"),
    path("inbox/channels/<str:channel_id>/star/", views.channel_star, name="channel-star"),
    path("inbox/channels/<str:channel_id>/move/", views.channel_move, name="channel-move"),
]
