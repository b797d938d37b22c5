"""SMS provider plugins, chosen by `SMS_BACKEND` from `SMS_GATEWAYS` (RapidPro-style)."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from artera.reload import reload_on

from .base import GatewayError, InboundSms, SendResult, SmsGateway, StatusReport

__all__ = [
    "GatewayError",
    "InboundSms",
    "SendResult",
    "SmsGateway",
    "StatusReport",
    "gateway_for_callbacks",
    "gateway_get",
]


def gateway_get(name: str | None = None) -> SmsGateway:
    """The gateway called `name`, by default the configured `SMS_BACKEND`."""
    name = name or settings.SMS_BACKEND
    path = settings.SMS_GATEWAYS.get(name)
    if path is None:
        raise ImproperlyConfigured(
            f"SMS backend {name!r} is not one of SMS_GATEWAYS: {', '.join(settings.SMS_GATEWAYS)}."
        )
    return _gateway(path)


def gateway_for_callbacks(name: str) -> SmsGateway | None:
    """The gateway whose callbacks `/webhooks/sms/<name>/` receives: one of `SMS_GATEWAYS` that
    takes callbacks, whether or not it is the backend that sends now (a provider switched away
    from still reports on what it sent). None otherwise."""
    path = settings.SMS_GATEWAYS.get(name)
    if path is None:
        return None
    gateway = _gateway(path)
    return gateway if gateway.takes_callbacks else None


# Gateways read their settings once (a Twilio client keeps its connection pool).
@reload_on("PUBLIC_BASE_URL", prefixes=("SMS_", "TWILIO_"))
@functools.cache
def _gateway(path: str) -> SmsGateway:
    gateway: SmsGateway = import_string(path)()
    return gateway
