"""`manage.py seed_demo [--name "Acme Health"] [--json]`: a demo enterprise to try the product."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from practices.demo import DEFAULT_NAME, demo_enterprise_seed


class Command(BaseCommand):
    help = "Create (or find) a demo enterprise with practices, lines, users, patients and clients."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=DEFAULT_NAME, help="Enterprise name.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        data = demo_enterprise_seed(name=options["name"])
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        self._print_summary(data)

    def _print_summary(self, data: dict[str, Any]) -> None:
        base = settings.PUBLIC_BASE_URL
        out = self.stdout.write
        out(self.style.SUCCESS(f"Demo enterprise: {data['enterprise']['name']}"))
        for practice in data["practices"]:
            phones = ", ".join(line["phone"] for line in practice["lines"])
            out(f"  {practice['name']} ({practice['kind']}), id {practice['id']}, line {phones}")
        out("")
        out(f"Sign in at {base}/accounts/login/ as:")
        for user in data["users"]:
            out(f"  {user['username']:<28} password {user['password']:<18} ({user['role']})")
        out("")
        out(
            "Patients (verified): "
            + ", ".join(
                f"{p['first_name']} {p['last_name']} {p['phone']}" for p in data["patients"]
            )
        )
        client = data["api_client"]
        out(f"API client: client_id {client['client_id']} client_secret {client['client_secret']}")
        out(f"  webhook secret {client['webhook_secret']}")
        out(f"SMAPI key: {data['smapi_key']}")
        for workflow in data["call_to_text"]:
            out(f"{workflow['kind']}: {base}{workflow['url']}?CALLER_ID_NUMBER=8185551234")
        clinic = next(p for p in data["practices"] if p["kind"] == "clinic")
        out("")
        out("For the README's MAPI example, paste into your shell:")
        out(
            f"  export CLIENT_ID={client['client_id']} CLIENT_SECRET={client['client_secret']} "
            f"PRACTICE_ID={clinic['id']}"
        )
