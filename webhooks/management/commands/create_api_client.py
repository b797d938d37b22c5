"""`manage.py create_api_client --enterprise <id> --name <n> [--scopes …] [--webhook-url …]`.

Prints the client id, the client secret and the webhook signing secret: the secrets are stored
hashed (the client secret) or shown only now, so this is the one chance to copy them.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from practices.models import Enterprise
from webhooks.models import API_SCOPES
from webhooks.services import api_client_create
from webhooks.ssrf import UnsafeWebhookUrl, webhook_url_check


class Command(BaseCommand):
    help = "Create an OAuth API client (MAPI) for an enterprise and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--enterprise", required=True, help="The enterprise's id (or its exact name)."
        )
        parser.add_argument("--name", required=True, help="What the integration is, e.g. Epic.")
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=list(API_SCOPES),
            help=f"Scopes it may request (space- or comma-separated; default: all of "
            f"{', '.join(API_SCOPES)}).",
        )
        parser.add_argument(
            "--webhook-url", default="", help="Default URL for its webhooks (https)."
        )
        parser.add_argument(
            "--allowed-ips",
            default="",
            help="Comma-separated addresses or CIDR networks it may call from (default: any).",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        enterprise = _enterprise(options["enterprise"])
        scopes = [s for item in options["scopes"] for s in item.replace(",", " ").split()]
        webhook_url = options["webhook_url"].strip()
        if webhook_url:
            try:
                webhook_url_check(webhook_url)
            except UnsafeWebhookUrl as exc:
                if exc.reason != UnsafeWebhookUrl.DNS_UNAVAILABLE:
                    raise CommandError(f"--webhook-url: {exc.message}") from exc
        try:
            credentials = api_client_create(
                enterprise=enterprise,
                name=options["name"],
                scopes=scopes,
                webhook_url=webhook_url,
                allowed_ips=options["allowed_ips"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        result = {
            "id": str(credentials.api_client.pk),
            "enterprise_id": str(enterprise.pk),
            "name": credentials.api_client.name,
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "webhook_secret": credentials.webhook_secret,
            "scopes": credentials.api_client.scope_list,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write(
            self.style.SUCCESS(f"API client {result['name']!r} for {enterprise.name}")
        )
        self.stdout.write(f"client_id:      {result['client_id']}")
        self.stdout.write(f"client_secret:  {result['client_secret']}")
        self.stdout.write(f"webhook_secret: {result['webhook_secret']}")
        self.stdout.write(f"scopes:         {' '.join(result['scopes'])}")
        self.stdout.write("Copy the secrets now: they cannot be shown again.")


def _enterprise(value: str) -> Enterprise:
    try:
        enterprise = Enterprise.objects.filter(pk=uuid.UUID(value)).first()
    except ValueError:
        enterprise = Enterprise.objects.filter(name=value).first()
    if enterprise is None:
        raise CommandError(f"No enterprise with the id or name {value!r}.")
    return enterprise
