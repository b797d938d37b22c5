"""Application errors: what a service refuses, with a machine code the API shows as-is.

Services raise these; an API exception handler turns them into the external contract's
``{"error": {"code", "message", "field"}}`` with the class's ``http_status``, and pages show the
message. ``code`` is a stable snake_case string integrators can branch on; ``message`` is a
sentence for people; ``field`` names the input at fault, when there is one.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class ApplicationError(Exception):
    """Base class. Subclasses fix the HTTP status; each raise names its own code."""

    http_status = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field

    def as_dict(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r})"


class InvalidInput(ApplicationError):
    """Malformed or invalid input (400): a bad phone number, an empty body."""

    http_status = 400
    default_code = "invalid"


class NotFound(ApplicationError):
    """An object that does not exist, or that the caller may not see (404)."""

    http_status = 404
    default_code = "not_found"


class Conflict(ApplicationError):
    """The request conflicts with the current state of an object (409)."""

    http_status = 409
    default_code = "conflict"


class Refused(ApplicationError):
    """Well-formed but refused by a rule (422): an opted-out recipient, an inactive line."""

    http_status = 422
    default_code = "refused"


def invalid_input_from(error: ValidationError, *, field: str | None = None) -> InvalidInput:
    """Turn a Django `ValidationError` (e.g. from `artera.phones`) into an `InvalidInput`,
    keeping its code and first message."""
    code = getattr(error, "code", None) or InvalidInput.default_code
    message = error.messages[0] if error.messages else "Invalid input."
    return InvalidInput(message, code=code, field=field)
