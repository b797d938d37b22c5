from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """Insights: how a practice's texting performs, for its managers and enterprise
    administrators. It sits on top beside the inbox: it reads every app's models, and nothing
    imports it."""

    name = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        # A late status (a `delivered` days after the send) changes a past day's figures: the
        # event marks that day to be rolled up again, inside the status change's transaction.
        from messaging import events

        from . import rollup

        events.on_message_status_changes(rollup.status_changes_touch)
        events.on_inbound_message(rollup.inbound_touch)
