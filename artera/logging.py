"""Logs that never carry a secret token or a patient's phone number.

Several URLs hold their credential in the path: the secure portal's `/secure/<token>/…`, the
call-to-text webhooks `/webhook/call-to-text/<token>/` and `/webhook/jive/<token>/`, short links
`/s/<code>` (which lead to portal links) and Django's password-reset links. Django's request and
security loggers write the path of every 4xx and 5xx ("Not Found: /secure/…", "Forbidden (CSRF
cookie not set.): …"), the development server and gunicorn's access log write whole request
lines with query strings (`?CALLER_ID_NUMBER=…`, `?to=+1…`) and the Referer (a portal page's
URL), and a traceback can quote an exception message that holds any of these.

`RedactSecretsFilter` is installed on every handler in `settings.LOGGING` (and, through
`GunicornLogger`, on gunicorn's). For each record it renders the message, rewrites it with
`redact`, and does the same to the traceback and stack text, and replaces the `request` the
record carries (which a handler could print, path and all) by its redacted description. What it
cannot recognise (a name, a date of birth, a message body) must simply never be logged: the code
logs ids, and the tests in tests/platform/test_log_redaction.py check the request paths end to end.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

# A path separator as it appears in a decoded path or a raw (percent-encoded) request line.
_SEP = r"(?:/|%2[fF])"
# One path segment: up to the next separator, query, fragment, quote or whitespace.
_SEGMENT = r"(?:(?!%2[fF])[^/?#\s\"'<>])+"
_SECRET_PATHS = re.compile(
    rf"(?P<prefix>{_SEP}(?:secure|webhook{_SEP}call-to-text|webhook{_SEP}jive|s)"
    rf"{_SEP}|{_SEP}reset{_SEP}{_SEGMENT}{_SEP})(?P<secret>{_SEGMENT})",
    re.IGNORECASE,
)
# Query strings keep their parameter names (useful when reading a log), never their values.
_QUERY_VALUE = re.compile(r"(?P<name>[?&][^=&#\s\"'<>]*=)(?P<value>[^&#\s\"'<>]*)")
# US numbers in E.164, plain or percent-encoded (`%2B1…`), wherever they appear.
_PHONE = re.compile(r"(?:\+|%2[bB])1\d{10}(?!\d)")


def redact(text: str) -> str:
    """`text` without path tokens, query string values or E.164 phone numbers."""
    text = _SECRET_PATHS.sub(lambda m: m.group("prefix") + REDACTED, text)
    text = _QUERY_VALUE.sub(lambda m: m.group("name") + REDACTED, text)
    return _PHONE.sub("[phone]", text)


def _request_description(request: Any) -> str:
    method = getattr(request, "method", "")
    try:
        path = request.get_full_path()
    except Exception:  # a half-built request must not break logging
        path = ""
    return redact(f"<{type(request).__name__}: {method} {path!r}>")


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record it sees (module docstring); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log it unformatted
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            # Handlers format exc_text when there is no exc_info: only the redacted text is left.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "get_full_path"):
            record.request = _request_description(request)
        return True


try:
    from gunicorn.glogging import Logger as _GunicornLogger  # type: ignore[import-untyped]
except ImportError:  # gunicorn is only installed where it serves
    pass
else:

    class GunicornLogger(_GunicornLogger):
        """gunicorn's logger with `RedactSecretsFilter` on its error and access logs (request
        lines, query strings, the Referer). `gunicorn.conf.py` names it as `logger_class`."""

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.addFilter(RedactSecretsFilter())
