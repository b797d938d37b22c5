"""Secret tokens and patients' details never reach a log, whatever the status.

Everything here goes through the handlers `settings.LOGGING` configures (the `log` fixture
applies that very configuration with the streams pointed at a buffer), not pytest's caplog,
which sits beside the handlers and would not see what their filter does.
"""

from __future__ import annotations

import copy
import datetime
import io
import logging
import logging.config
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client
from django.utils import timezone
from django.utils.log import configure_logging

from artera.logging import redact
from messaging.models import SecureLink
from messaging.secure_links import secure_link_token
from messaging.services import Api, ToNumber, message_send
from practices.models import Practice
from tests.factories import PatientFactory, PatientPhoneFactory
from webhooks.models import CallToTextWorkflow
from webhooks.services import api_client_create, call_to_text_workflow_create

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+18185550142"
CALLER = "8185550177"
DOB = datetime.date(1961, 7, 23)
FIRST, LAST = "Rosalind", "Quintero"
BODY = "Your biopsy result: benign."
REPLY = "Thank you, what about the pathology slides"


class LogOutput:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        for handler in logging.getLogger().handlers:
            handler.flush()
        return self.stream.getvalue()


@pytest.fixture
def log(settings: Any) -> Iterator[LogOutput]:
    """`settings.LOGGING` as configured, every stream handler writing to one buffer."""
    output = LogOutput()
    config = copy.deepcopy(django_settings.LOGGING)
    for handler in config["handlers"].values():
        if handler["class"] == "logging.StreamHandler":
            handler["stream"] = output.stream
    logging.config.dictConfig(config)
    try:
        yield output
    finally:
        configure_logging(django_settings.LOGGING_CONFIG, django_settings.LOGGING)


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.SMS_BACKEND = "simulator"
    settings.SMS_SIMULATOR_LATENCY = 0
    settings.SMS_SIMULATOR_REPORT_DELAY = 0
    settings.TRUSTED_PROXY_COUNT = 0
    settings.API_RATE_LIMIT_KEY_PREFIX = f"artera-test:{uuid.uuid4().hex}"
    settings.SMS_PACING_KEY_PREFIX = f"artera-test:{uuid.uuid4().hex}:pacing"


@pytest.fixture
def portal_link(
    practice: Practice, django_capture_on_commit_callbacks: Any
) -> tuple[SecureLink, str]:
    patient = PatientFactory(
        enterprise=practice.enterprise,
        mrn="MRN-LOG-1",
        first_name=FIRST,
        last_name=LAST,
        date_of_birth=DOB,
    )
    PatientPhoneFactory(patient=patient, number=PHONE)
    api_client = api_client_create(enterprise=practice.enterprise, name="Epic").api_client
    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(
            to=ToNumber(practice, PHONE, patient=patient),
            sender=Api(client=api_client),
            body=BODY,
            secure=True,
        )
    link = SecureLink.objects.get(message=message)
    return link, secure_link_token(link)


@pytest.fixture
def workflow_token(practice: Practice) -> tuple[CallToTextWorkflow, str]:
    return call_to_text_workflow_create(
        practice=practice, kind="call_to_text", message="Sorry for the wait: reply here."
    )


def assert_clean(text: str, *secrets: str) -> None:
    for secret in (*secrets, PHONE, PHONE[2:], CALLER, FIRST, LAST, BODY, REPLY, "1961"):
        assert secret not in text, f"{secret!r} is in the log:\n{text}"


# --- Each status, through Django's request and security loggers ---------------------------------


def test_404_unknown_portal_token(log: LogOutput, db: None) -> None:
    token = "Z" * 43
    response = Client().get(f"/secure/{token}/")

    assert response.status_code == 404
    assert "Not Found: /secure/[redacted]/" in log.text
    assert_clean(log.text, token)


def test_404_unknown_call_to_text_token(log: LogOutput, db: None) -> None:
    token = "Q" * 43
    for path in (f"/webhook/call-to-text/{token}/", f"/webhook/jive/{token}/"):
        response = Client().get(path, {"CALLER_ID_NUMBER": CALLER})
        assert response.status_code == 404

    assert "Not Found: /webhook/call-to-text/[redacted]/" in log.text
    assert "Not Found: /webhook/jive/[redacted]/" in log.text
    assert_clean(log.text, token)


def test_410_expired_portal_link(log: LogOutput, portal_link: tuple[SecureLink, str]) -> None:
    link, token = portal_link
    SecureLink.objects.filter(pk=link.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    response = Client().get(f"/secure/{token}/thread/")

    assert response.status_code == 410
    assert "Gone: /secure/[redacted]/thread/" in log.text
    assert_clean(log.text, token)


def test_429_rate_limited_call_to_text(
    log: LogOutput, workflow_token: tuple[CallToTextWorkflow, str], settings: Any
) -> None:
    workflow, token = workflow_token
    settings.CALL_TO_TEXT_RATE_PER_MINUTE = 1
    settings.CALL_TO_TEXT_RATE_BURST = 1
    client = Client()
    assert (
        client.get(f"/webhook/call-to-text/{token}/", {"CALLER_ID_NUMBER": CALLER}).status_code
        == 202
    )
    response = client.post(f"/webhook/call-to-text/{token}/", {"CALLER_ID_NUMBER": CALLER})

    assert response.status_code == 429
    assert "Too Many Requests: /webhook/call-to-text/[redacted]/" in log.text
    assert f"workflow {workflow.token_prefix}… refused a call: 429" in log.text
    assert_clean(log.text, token)


def test_csrf_403_on_a_portal_post(log: LogOutput, portal_link: tuple[SecureLink, str]) -> None:
    _, token = portal_link
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        f"/secure/{token}/",
        {"month": str(DOB.month), "day": str(DOB.day), "year": str(DOB.year)},
    )

    assert response.status_code == 403
    assert "Forbidden (CSRF cookie not set.): /secure/[redacted]/" in log.text
    assert_clean(log.text, token)


def test_500_with_the_token_in_the_path_and_in_the_exception(
    log: LogOutput, portal_link: tuple[SecureLink, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = portal_link

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError(f"could not check /secure/{token}/ for {PHONE}")

    monkeypatch.setattr("messaging.portal_views.secure_dob_check", broken)
    client = Client(raise_request_exception=False)
    client.get(f"/secure/{token}/")  # the CSRF cookie, as a browser would have it
    response = client.post(
        f"/secure/{token}/",
        {
            "month": str(DOB.month),
            "day": str(DOB.day),
            "year": str(DOB.year),
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
            "body": REPLY,
        },
    )

    assert response.status_code == 500
    text = log.text
    assert "ERROR django.request Internal Server Error: /secure/[redacted]/" in text
    assert "Traceback (most recent call last)" in text  # the traceback is kept, redacted
    assert "RuntimeError: could not check /secure/[redacted]/ for [phone]" in text
    assert_clean(text, token)


def test_500_record_carries_no_live_request(
    log: LogOutput, workflow_token: tuple[CallToTextWorkflow, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler that prints the record's `request` (as error reporters do) gets a redacted
    description, not the request with its path, headers and body."""
    _, token = workflow_token
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logging.getLogger().addHandler(keep)  # after the configured console handler
    monkeypatch.setattr(
        "webhooks.call_to_text.call_to_text_trigger",
        lambda **kwargs: (_ for _ in ()).throw(RuntimeError("boom")),
    )
    try:
        response = Client(raise_request_exception=False).get(
            f"/webhook/call-to-text/{token}/", {"CALLER_ID_NUMBER": CALLER}
        )
    finally:
        logging.getLogger().removeHandler(keep)

    assert response.status_code == 500
    [record] = [r for r in seen if r.name == "django.request"]
    assert (
        record.request
        == "<WSGIRequest: GET '/webhook/call-to-text/[redacted]/?CALLER_ID_NUMBER=[redacted]'>"
    )
    assert record.exc_info is None
    assert "RuntimeError: boom" in (record.exc_text or "")
    assert_clean(log.text, token)


# --- Request lines: runserver and gunicorn ----------------------------------------------------


def test_runserver_request_lines(log: LogOutput) -> None:
    token = "T" * 43
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.request = None  # the socket; runserver passes it along as `request`
    handler.client_address = ("127.0.0.1", 50000)
    for line, status in (
        (f"GET /secure/{token}/ HTTP/1.1", 404),
        (f"POST /webhook/jive/{token}/?CALLER_ID_NUMBER={CALLER} HTTP/1.1", 429),
        (f"GET /simulator/api/messages?to=%2B1{PHONE[2:]} HTTP/1.1", 200),
    ):
        handler.requestline = line
        handler.log_request(status, 120)  # what BaseHTTPRequestHandler calls after each request

    text = log.text
    assert '"GET /secure/[redacted]/ HTTP/1.1" 404 120' in text
    assert '"POST /webhook/jive/[redacted]/?CALLER_ID_NUMBER=[redacted] HTTP/1.1" 429' in text
    assert '"GET /simulator/api/messages?to=[redacted] HTTP/1.1" 200' in text
    assert_clean(text, token)


def test_gunicorn_access_log(tmp_path: Path) -> None:
    from gunicorn.config import Config

    from artera.logging import GunicornLogger

    token = "G" * 43
    access = tmp_path / "access.log"
    cfg = Config()
    cfg.set("accesslog", str(access))
    cfg.set("logger_class", "artera.logging.GunicornLogger")
    logger = GunicornLogger(cfg)

    class Response:
        status = "404 Not Found"
        sent = 77
        headers: list[tuple[str, str]] = []

    class Request:
        headers = [("REFERER", f"https://messaging.example.org/secure/{token}/thread/")]

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/secure/{token}/code/?next=%2B1{PHONE[2:]}",
        "PATH_INFO": f"/secure/{token}/code/",
        "QUERY_STRING": f"next=%2B1{PHONE[2:]}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://messaging.example.org/secure/{token}/thread/",
    }
    logger.access(Response(), Request(), environ, datetime.timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()

    text = access.read_text()
    assert '"GET /secure/[redacted]/code/?next=[redacted] HTTP/1.1" 404 77' in text
    assert "https://messaging.example.org/secure/[redacted]/thread/" in text
    assert_clean(text, token)


def test_gunicorn_reads_the_logger_class_from_the_project() -> None:
    """`gunicorn artera.wsgi:application` run from the project folder picks up
    gunicorn.conf.py, whose logger redacts."""
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--print-config",
            "artera.wsgi:application",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    settings_printed = dict(
        (name.strip(), value.strip())
        for name, _, value in (line.partition("=") for line in result.stdout.splitlines())
    )
    assert settings_printed["logger_class"] == "artera.logging.GunicornLogger"


# --- The redaction itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Not Found: /secure/abc_DEF-123/code/", "Not Found: /secure/[redacted]/code/"),
        ("/webhook/call-to-text/tok3n", "/webhook/call-to-text/[redacted]"),
        ("GET /Webhook/Jive/tok3n/ HTTP/1.1", "GET /Webhook/Jive/[redacted]/ HTTP/1.1"),
        ("GET /secure%2Ftok3n/ HTTP/1.1", "GET /secure%2F[redacted]/ HTTP/1.1"),
        ("GET /webhook%2fjive%2Ftok3n HTTP/1.1", "GET /webhook%2fjive%2F[redacted] HTTP/1.1"),
        ("GET /s/Ab3dE HTTP/1.1", "GET /s/[redacted] HTTP/1.1"),
        ("/accounts/reset/MQ/c4t-abc123/", "/accounts/reset/MQ/[redacted]/"),
        ("/inbox/?q=Rosa&status=open", "/inbox/?q=[redacted]&status=[redacted]"),
        ("texted +18185550142 and %2B18185550142", "texted [phone] and [phone]"),
        ("/secure/[redacted]/", "/secure/[redacted]/"),
        ("/inbox/channels/5/ 200", "/inbox/channels/5/ 200"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
