from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Outbound webhooks are stored inside the transactions that make their events.
        from messaging import events

        from . import delivery

        events.on_message_status_changes(delivery.message_status_events_store)
        events.on_inbound_message(delivery.patient_response_event_store)
