"""System checks for the send path's configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register()
def sms_backend_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if settings.SMS_BACKEND not in settings.SMS_GATEWAYS:
        errors.append(
            Error(
                f"SMS_BACKEND={settings.SMS_BACKEND!r} is not a known SMS gateway.",
                hint=f"Use one of: {', '.join(settings.SMS_GATEWAYS)}.",
                id="messaging.E001",
            )
        )
    if settings.SMS_BACKEND == "twilio" and not (
        settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN
    ):
        errors.append(
            Error(
                "The twilio SMS backend needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
                id="messaging.E002",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def sms_backend_deploy_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: the simulator is never the carrier of a production deployment by
    accident. It delivers nothing to any patient, and its pages show every text it carried."""
    if settings.SMS_BACKEND != "simulator":
        return []
    return [
        Error(
            "SMS_BACKEND is the simulator: no text reaches a patient, and the simulator's pages "
            "show every text it carried.",
            hint="Set SMS_BACKEND=twilio with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN. (A public "
            "demo that really means to run on the simulator also sets SMS_SIMULATOR_PUBLIC_DEMO=1 "
            "so its pages serve behind HTTPS; this error stays.)",
            id="messaging.E003",
        )
    ]
