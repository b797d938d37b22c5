"""`manage.py create_call_to_text --practice <id> --kind call_to_text|abandoned_call --message …
[--line <id>] [--language en] [--after-hours-message …] [--name …] [--allowed-ips …] [--json]`.

Prints the workflow's URL with its secret token: only the token's hash is stored, so this is the
one chance to copy it (admin's "regenerate token" action makes a new one). With `--json`, one
JSON object: `id`, `kind`, `practice_id`, `line_id`, `language`, `url` (the path, as
`seed_demo --json` prints it) and `absolute_url` (with PUBLIC_BASE_URL).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from practices.models import Language, Line, Practice
from webhooks.models import CALL_TO_TEXT_MESSAGE_MAX_LENGTH, CallToTextWorkflow
from webhooks.services import call_to_text_url, call_to_text_workflow_create


class Command(BaseCommand):
    help = "Create a call-to-text (or abandoned-call) workflow and print its secret URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--practice", required=True, help="The practice's id.")
        parser.add_argument(
            "--kind",
            required=True,
            choices=CallToTextWorkflow.Kind.values,
            help="call_to_text: the caller pressed a key on hold; abandoned_call: the caller "
            "hung up.",
        )
        parser.add_argument(
            "--message",
            required=True,
            help=f"What the caller is texted (at most {CALL_TO_TEXT_MESSAGE_MAX_LENGTH} "
            "characters; smart phrases such as {practiceName} are filled in).",
        )
        parser.add_argument(
            "--line", default="", help="The line's id (default: the practice's default line)."
        )
        parser.add_argument(
            "--language",
            default=Language.ENGLISH.value,
            choices=Language.values,
            help="The message's language (one workflow per language).",
        )
        parser.add_argument(
            "--after-hours-message",
            default="",
            help="Texted instead while the practice is closed (default: the message, always).",
        )
        parser.add_argument("--name", default="", help="Optional, to tell workflows apart.")
        parser.add_argument(
            "--allowed-ips",
            default="",
            help="Comma-separated addresses or CIDR networks the phone system calls from "
            "(default: any).",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        practice = _practice(options["practice"])
        line = _line(options["line"], practice) if options["line"] else None
        try:
            workflow, token = call_to_text_workflow_create(
                practice=practice,
                line=line,
                kind=options["kind"],
                language=options["language"],
                message=options["message"],
                after_hours_message=options["after_hours_message"],
                name=options["name"],
                allowed_ips=options["allowed_ips"],
            )
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from exc
        path = call_to_text_url(token)
        result = {
            "id": str(workflow.pk),
            "kind": workflow.kind,
            "practice_id": str(practice.pk),
            "line_id": str(workflow.line_id),
            "language": workflow.language,
            "url": path,
            "absolute_url": settings.PUBLIC_BASE_URL + path,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{workflow.get_kind_display()} workflow for {practice.name}, texting from "
                f"{workflow.line}"
            )
        )
        self.stdout.write(f"url: {result['absolute_url']}")
        self.stdout.write(
            "Copy the URL now: it holds a secret token and cannot be shown again. The phone "
            "system calls it with CALLER_ID_NUMBER=<the caller's 10-digit number>."
        )


def _practice(value: str) -> Practice:
    try:
        practice = Practice.objects.filter(pk=uuid.UUID(value)).first()
    except ValueError:
        practice = None
    if practice is None:
        raise CommandError(f"--practice: no practice with the id {value!r}.")
    return practice


def _line(value: str, practice: Practice) -> Line:
    try:
        line = Line.objects.filter(pk=uuid.UUID(value)).first()
    except ValueError:
        line = None
    if line is None:
        raise CommandError(f"--line: no line with the id {value!r}.")
    if line.practice_id != practice.pk:
        raise CommandError(f"--line: {line} belongs to another practice than {practice.name}.")
    return line


def _describe(error: ValidationError) -> str:
    """`--message: Ensure this value has at most 255 characters (it has 300).`"""
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    options = {"allowed_ips": "allowed-ips", "after_hours_message": "after-hours-message"}
    return " ".join(
        f"--{options.get(field, field)}: {' '.join(messages)}"
        if field != "__all__"
        else " ".join(messages)
        for field, messages in error.message_dict.items()
    )
