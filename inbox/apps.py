from django.apps import AppConfig


class InboxConfig(AppConfig):
    """The staff inbox: pages, reads and template tags over channels and messages.

    It sits above both `channels_app` (patients and channels) and `messaging` (texts), so
    neither of those ever imports it, and `channels_app` never imports `messaging`.
    """

    name = "inbox"
    label = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        # The live push subscribes to the domain's events (channels_app.events, messaging.events).
        from . import push  # noqa: F401
