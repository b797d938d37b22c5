"""`manage.py create_call_to_text` (DESIGN.md): prints the URL with its token; bad input exits
non-zero with a clear message."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from artera.secrets import token_hash
from practices.models import Line
from tests.factories import LineFactory
from tests.support.call_to_text import Hit
from webhooks.models import CallToTextWorkflow

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


def _run(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("create_call_to_text", *args, "--json", stdout=out)
    data: dict[str, Any] = json.loads(out.getvalue())  # exactly one JSON object
    return data


def test_json_output_and_the_url_works(line: Line, hit: Hit) -> None:
    data = _run(
        "--practice", str(line.practice_id),
        "--kind", "abandoned_call",
        "--message", "Sorry we missed your call to {practiceName}.",
    )  # fmt: skip
    workflow = CallToTextWorkflow.objects.get()
    assert data["id"] == str(workflow.pk)
    assert (data["kind"], data["practice_id"], data["line_id"], data["language"]) == (
        "abandoned_call",
        str(line.practice_id),
        str(line.pk),
        "en",
    )
    assert data["url"].startswith("/webhook/call-to-text/")
    assert data["absolute_url"] == settings.PUBLIC_BASE_URL + data["url"]
    token = data["url"].removeprefix("/webhook/call-to-text/").rstrip("/")
    assert workflow.token_hash == token_hash(token)
    response = hit(token, path=data["url"])
    assert response.status_code == 202


def test_all_options(line: Line) -> None:
    other_line = LineFactory(practice=line.practice, is_default=False)
    data = _run(
        "--practice", str(line.practice_id),
        "--kind", "call_to_text",
        "--message", "Hola, le escribe {practiceName}.",
        "--line", str(other_line.pk),
        "--language", "es",
        "--after-hours-message", "Estamos cerrados.",
        "--name", "IVR español",
        "--allowed-ips", "198.51.100.0/24, 203.0.113.7",
    )  # fmt: skip
    workflow = CallToTextWorkflow.objects.get(pk=data["id"])
    assert (workflow.line, workflow.language, workflow.name) == (other_line, "es", "IVR español")
    assert workflow.after_hours_message == "Estamos cerrados."
    assert workflow.allowed_ips == "198.51.100.0/24, 203.0.113.7"


def test_plain_output_shows_the_absolute_url(line: Line) -> None:
    out = StringIO()
    call_command(
        "create_call_to_text",
        "--practice", str(line.practice_id),
        "--kind", "call_to_text",
        "--message", "Hi",
        stdout=out,
    )  # fmt: skip
    assert f"url: {settings.PUBLIC_BASE_URL}/webhook/call-to-text/" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--message", "x" * 256], "--message: Ensure this value has at most 255 characters"),
        (["--message", ""], "--message: This field cannot be blank."),
        (["--message", "   "], "--message: Write the text the caller gets."),
        (["--after-hours-message", "x" * 300], "--after-hours-message: Ensure this value"),
        (["--allowed-ips", "banana"], "--allowed-ips: Not an IP address or network: banana."),
        (["--line", "not-a-uuid"], "--line: no line with the id 'not-a-uuid'."),
    ],
)
def test_bad_input_is_a_clear_error(line: Line, args: list[str], error: str) -> None:
    base = {"--practice": str(line.practice_id), "--kind": "call_to_text", "--message": "Hi"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    flat = [item for pair in base.items() for item in pair]
    with pytest.raises(CommandError) as raised:
        call_command("create_call_to_text", *flat, "--json", stdout=StringIO())
    assert error in str(raised.value)
    assert not CallToTextWorkflow.objects.exists()


def test_unknown_practice_and_foreign_line(line: Line) -> None:
    with pytest.raises(CommandError, match="--practice: no practice with the id"):
        call_command(
            "create_call_to_text", "--practice", "nope", "--kind", "call_to_text",
            "--message", "Hi", stdout=StringIO(),
        )  # fmt: skip
    foreign = LineFactory()
    with pytest.raises(CommandError, match="belongs to another practice"):
        call_command(
            "create_call_to_text", "--practice", str(line.practice_id), "--kind",
            "call_to_text", "--message", "Hi", "--line", str(foreign.pk), stdout=StringIO(),
        )  # fmt: skip


def test_practice_without_a_line(db: None) -> None:
    from tests.factories import PracticeFactory

    practice = PracticeFactory()
    with pytest.raises(CommandError, match="This practice has no line to text from"):
        call_command(
            "create_call_to_text", "--practice", str(practice.pk), "--kind", "call_to_text",
            "--message", "Hi", stdout=StringIO(),
        )  # fmt: skip


def test_exit_status_from_the_shell(line: Line) -> None:
    """Through manage.py: non-zero exit, the reason on stderr, nothing on stdout. (The
    subprocess cannot see the test's database, so the practice is unknown to it: that is the
    error checked here; an argparse error is checked as well.)"""
    run = subprocess.run(
        [sys.executable, "manage.py", "create_call_to_text", "--practice", "nope",
         "--kind", "call_to_text", "--message", "Hi", "--json"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode != 0
    assert "--practice: no practice with the id 'nope'." in run.stderr
    assert run.stdout == ""
    bad_kind = subprocess.run(
        [sys.executable, "manage.py", "create_call_to_text", "--practice", "x",
         "--kind", "voicemail", "--message", "Hi"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad_kind.returncode != 0
    assert "invalid choice: 'voicemail'" in bad_kind.stderr
