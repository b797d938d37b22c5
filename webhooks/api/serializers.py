"""Input and output of the integrator APIs.

Input fields are strict on purpose: a JSON number is not a phone number, "yes" is not `true`,
and a field the API does not know is refused rather than ignored (a misspelt `secure` must not
quietly send a plain text). Every refusal carries a machine code that the exception handler
(`artera.api`) puts in the error object, with the field's dotted path.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.settings import api_settings

from artera.bodies import MAX_BODY_LENGTH, body_problem
from artera.jsonbody import json_depth
from artera.phones import normalize_us_phone
from messaging.models import ErrorCode, Message, MessageStatus
from webhooks.ssrf import WEBHOOK_URL_MAX_LENGTH, UnsafeWebhookUrl, webhook_url_check

METADATA_MAX_BYTES = 2048
# Levels of objects and arrays, `metadata` itself being the first: room for any record an EMR
# keeps, and a bound on what every webhook about the message carries.
METADATA_MAX_DEPTH = 10
MRN_MAX_LENGTH = 64
NAME_MAX_LENGTH = 100
LOCATION_ID_MAX_LENGTH = 100
EARLIEST_DATE_OF_BIRTH = datetime.date(1900, 1, 1)

_datetime_field = serializers.DateTimeField()


def _error(field: str | None, message: str, code: str) -> ValidationError:
    key = field or api_settings.NON_FIELD_ERRORS_KEY
    return ValidationError({key: [ErrorDetail(message, code=code)]})


# --- Strict fields ------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string; other JSON types are refused, not converted."""

    default_error_messages = {"invalid_type": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid_type")
        return str(super().to_internal_value(data))


@extend_schema_field(OpenApiTypes.STR)
class IdentifierField(serializers.Field):
    """An EMR identifier (an MRN, a location id): a string, or a whole number (some EMRs send
    ids as numbers), kept as a string."""

    default_error_messages = {
        "invalid_type": "Must be a string.",
        "blank": "May not be empty.",
        "too_long": "Must be at most {max_length} characters.",
    }

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("invalid_type")
        value = str(data).strip()
        if not value:
            self.fail("blank")
        if len(value) > self.max_length:
            self.fail("too_long", max_length=self.max_length)
        return value

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_field(OpenApiTypes.UUID)
class StrictUUIDField(serializers.Field):
    default_error_messages = {
        "invalid_uuid": "Must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6."
    }

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str):
            self.fail("invalid_uuid")
        try:
            return uuid.UUID(data)
        except ValueError:
            self.fail("invalid_uuid")
        raise AssertionError("unreachable")

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanField(serializers.Field):
    default_error_messages = {"invalid_type": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid_type")
        return data

    def to_representation(self, value: Any) -> bool:
        return bool(value)


@extend_schema_field({"type": "string", "example": "+18185551234"})
class UsPhoneField(StrictCharField):
    """A US number in any common form, normalized to E.164."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return normalize_us_phone(text)
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages[0], code="invalid_phone") from exc


@extend_schema_field(OpenApiTypes.DATE)
class DateOfBirthField(serializers.Field):
    default_error_messages = {"invalid_date": "Must be a past date written YYYY-MM-DD."}

    def to_internal_value(self, data: Any) -> datetime.date:
        if not isinstance(data, str):
            self.fail("invalid_date")
        try:
            value = datetime.date.fromisoformat(data)
        except ValueError:
            self.fail("invalid_date")
        latest = timezone.now().date() + datetime.timedelta(days=1)  # any timezone's today
        if len(data) != 10 or not EARLIEST_DATE_OF_BIRTH <= value <= latest:
            self.fail("invalid_date")
        return value

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": MAX_BODY_LENGTH})
class BodyField(StrictCharField):
    """The text of a message: not blank, at most `MAX_BODY_LENGTH` characters, kept as typed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        problem = body_problem(text)
        if problem is not None:
            raise ValidationError(problem.message, code=problem.code)
        return text


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": f"Any JSON object of at most {METADATA_MAX_BYTES} bytes (as compact "
        f"UTF-8 JSON) and {METADATA_MAX_DEPTH} levels of objects and arrays (itself "
        "included), echoed in every webhook about this message.",
        "example": {"appointment_id": "A-1234"},
    }
)
class MetadataField(serializers.Field):
    default_error_messages = {
        "invalid_type": "Must be a JSON object.",
        "metadata_too_large": f"May be at most {METADATA_MAX_BYTES} bytes as JSON "
        "(this is {size}).",
        "metadata_too_deep": f"May nest objects and arrays at most {METADATA_MAX_DEPTH} levels "
        "deep, counting metadata itself (this has {depth}).",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("invalid_type")
        depth = json_depth(data)  # before encoding it: the encoder recurses
        if depth > METADATA_MAX_DEPTH:
            self.fail("metadata_too_deep", depth=depth)
        size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        if size > METADATA_MAX_BYTES:
            self.fail("metadata_too_large", size=size)
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {"type": "string", "format": "uri", "example": "https://emr.example.org/hooks"}
)
class CallbackUrlField(StrictCharField):
    """An https URL of a public host (`webhooks.ssrf`). A host that cannot be looked up just now
    is accepted: the sender checks again before every delivery."""

    def to_internal_value(self, data: Any) -> str:
        url = super().to_internal_value(data)
        try:
            webhook_url_check(url, use_cache=True)
        except UnsafeWebhookUrl as exc:
            if exc.reason != UnsafeWebhookUrl.DNS_UNAVAILABLE:
                raise ValidationError(exc.message, code="invalid_callback_url") from exc
        return url


@extend_schema_field(
    {"type": "string", "format": "date-time", "example": "2026-11-21T09:00:00-05:00"}
)
class AwareDateTimeField(serializers.Field):
    """An ISO 8601 date and time with its offset (`Z` or `±hh:mm`); one without is refused:
    "9:00" means nothing without saying where."""

    default_error_messages = {
        "invalid_datetime": "Must be an ISO 8601 date and time with an offset, e.g. "
        "2026-11-21T09:00:00-05:00."
    }

    def to_internal_value(self, data: Any) -> datetime.datetime:
        if not isinstance(data, str) or "T" not in data.upper():
            self.fail("invalid_datetime")
        try:
            value = datetime.datetime.fromisoformat(data)
        except ValueError:
            self.fail("invalid_datetime")
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail("invalid_datetime")
        return value.astimezone(datetime.UTC)

    def to_representation(self, value: Any) -> str | None:
        return _datetime_field.to_representation(value) if value is not None else None


class StrictSerializer(serializers.Serializer):
    # Refuses a body that is not a JSON object, and fields it does not know. (No docstring:
    # drf-spectacular would publish it as every subclass's description.)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None and self.parent is None:
            raise _error(None, "Must be a JSON object.", "invalid_body")
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            code = "invalid_body" if self.parent is None else "invalid_type"
            raise _error(None, "Must be a JSON object.", code)
        unknown = [name for name in data if name not in self.fields]
        if unknown:
            raise _error(unknown[0], f"Unknown field `{unknown[0]}`.", "unknown_field")
        return super().to_internal_value(data)


# --- MAPI ---------------------------------------------------------------------------------------


class PatientInputSerializer(StrictSerializer):
    mrn = IdentifierField(max_length=MRN_MAX_LENGTH, help_text="The patient's MRN in the EMR.")
    first_name = StrictCharField(required=False, max_length=NAME_MAX_LENGTH, allow_blank=True)
    last_name = StrictCharField(required=False, max_length=NAME_MAX_LENGTH, allow_blank=True)
    date_of_birth = DateOfBirthField(required=False, allow_null=True)


class MessageCreateSerializer(StrictSerializer):
    to = UsPhoneField(
        help_text="A US number: +18185551234, 18185551234, 8185551234 or (818) 555-1234."
    )
    body = BodyField(
        help_text=f"The text, 1 to {MAX_BODY_LENGTH} characters. Smart phrases such as "
        "{patientFirstName} are filled in; links may be shortened per the enterprise's rule.",
    )
    practice_id = StrictUUIDField(
        required=False, allow_null=True, help_text="The practice (or give `location_id`)."
    )
    location_id = IdentifierField(
        max_length=LOCATION_ID_MAX_LENGTH,
        required=False,
        allow_null=True,
        help_text="The EMR's location/department id of the practice (or give `practice_id`).",
    )
    line_id = StrictUUIDField(
        required=False, allow_null=True, help_text="Default: the practice's default line."
    )
    patient = PatientInputSerializer(
        required=False,
        allow_null=True,
        help_text="A verified patient of the enterprise, by MRN; an unknown MRN with "
        "first_name, last_name and date_of_birth adds the patient.",
    )
    secure = StrictBooleanField(
        required=False,
        allow_null=True,
        help_text="Send as a secure message (only to a verified patient).",
    )
    callback_url = CallbackUrlField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=WEBHOOK_URL_MAX_LENGTH,
        help_text="Where this message's message.status webhooks go (https). Default: the "
        "client's webhook URL.",
    )
    metadata = MetadataField(required=False, allow_null=True)
    send_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="Send later: when the text goes (with its offset; up to 35 days ahead). The "
        "message is `scheduled` until then; `DELETE /api/v1/messages/{id}` cancels it. "
        "Default: at once.",
    )
    valid_until = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="The text must not go after this moment: if it has not been handed to the "
        "carrier by then (held, scheduled or behind a busy line), it fails with error_code "
        "`expired` and is never sent.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_practice = attrs.get("practice_id") is not None
        has_location = attrs.get("location_id") is not None
        if has_practice and has_location:
            raise _error(
                "location_id", "Give practice_id or location_id, not both.", "ambiguous_practice"
            )
        if not has_practice and not has_location:
            raise _error("practice_id", "Give practice_id or location_id.", "missing_practice")
        return attrs


BATCH_MAX_MESSAGES = 500


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": BATCH_MAX_MESSAGES,
        # Any item is taken: one that is not a valid `MessageCreateRequest` is refused in its own
        # result, never the whole batch, so the request's schema must admit it.
        "items": {"anyOf": [{"$ref": "#/components/schemas/MessageCreateRequest"}, {}]},
        "description": f"1 to {BATCH_MAX_MESSAGES} messages, each exactly the body of `POST "
        "/api/v1/messages` (`MessageCreateRequest`). An item that is not a valid one is refused in "
        "its own result, as a single send of it would be; the others are sent.",
    }
)
class BatchMessagesField(serializers.ListField):
    pass


class MessageBatchCreateSerializer(serializers.Serializer):
    # The batch's documented shape, not its validation: each item is validated alone with
    # `MessageCreateSerializer`, so one bad item fails alone
    # (`webhooks.api.views.MessageBatchCreateView`).

    messages = BatchMessagesField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable snake_case code to branch on.")
    message = serializers.CharField(help_text="A sentence for people.")
    field = serializers.CharField(
        allow_null=True, help_text="The input at fault (dotted for nested fields), or null."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class ChannelRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    verified = serializers.BooleanField(help_text="The conversation is with a verified patient.")


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    at = serializers.DateTimeField()
    error_code = serializers.ChoiceField(choices=ErrorCode.choices, allow_null=True)


class MessageSerializer(serializers.Serializer):
    # Built by hand (`to_representation`) because it is on every send's hot path; the declared
    # fields are its documented schema (a test keeps the two the same).

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    error_code = serializers.ChoiceField(
        choices=ErrorCode.choices,
        allow_null=True,
        help_text="Why the message failed or was undelivered; null otherwise.",
    )
    to = serializers.CharField(help_text="The patient's number, E.164.")
    from_ = serializers.CharField(help_text="The line's number, E.164.")
    body = serializers.CharField(help_text="The text as sent (smart phrases filled in).")
    segments = serializers.IntegerField(help_text="SMS segments the carrier bills.")
    secure = serializers.BooleanField()
    practice_id = serializers.UUIDField()
    line_id = serializers.UUIDField()
    channel = ChannelRefSerializer()
    patient_id = serializers.UUIDField(allow_null=True)
    metadata = serializers.DictField()
    created_at = serializers.DateTimeField()
    send_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When a `scheduled` message goes (asked for, or held by quiet hours until "
        "8:00 in the patient's time zone); null for a message sent at once.",
    )
    valid_until = serializers.DateTimeField(
        allow_null=True, help_text="After this moment the message is never sent (`expired`)."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword: declared as `from_`, shown as `from`.
        return {
            ("from" if name == "from_" else name): field
            for name, field in super().get_fields().items()
        }

    def to_representation(self, instance: Message) -> dict[str, Any]:
        message = instance
        return {
            "id": str(message.pk),
            "status": message.status,
            "error_code": message.error_code or None,
            "to": message.to_number,
            "from": message.from_number,
            "body": message.body,
            "segments": message.segments,
            "secure": message.is_secure,
            "practice_id": str(message.practice_id),
            "line_id": str(message.line_id),
            "channel": {"id": str(message.channel_id), "verified": _verified(message)},
            "patient_id": str(message.patient_id) if message.patient_id else None,
            "metadata": message.metadata,
            "created_at": _datetime_field.to_representation(message.created_at),
            "send_at": _datetime_or_none(message.send_at),
            "valid_until": _datetime_or_none(message.valid_until),
        }


class BatchResultSerializer(serializers.Serializer):
    # One item's answer: its status, and `message` (202) or `error` (4xx), never both.

    status = serializers.IntegerField(
        help_text="202 when the item was accepted; otherwise the status a single send of it "
        "would have been refused with (400, 404, 422)."
    )
    message = MessageSerializer(required=False, help_text="The accepted message (202 only).")
    error = ErrorDetailSerializer(
        required=False, help_text="Why the item was refused (4xx only), as a single send says."
    )


class MessageBatchSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True, help_text="One result per item, in item order.")


class MessageDetailSerializer(MessageSerializer):
    status_history = StatusChangeSerializer(many=True, help_text="Oldest first.")

    def to_representation(self, instance: Message) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["status_history"] = [
            {
                "status": change.status,
                "at": _datetime_field.to_representation(change.at),
                "error_code": change.error_code or None,
            }
            for change in instance.status_history.all()
        ]
        return data


def _datetime_or_none(value: datetime.datetime | None) -> str | None:
    return _datetime_field.to_representation(value) if value is not None else None


def _verified(message: Message) -> bool:
    return message.patient_id is not None and bool(
        message.patient is not None and message.patient.is_verified
    )


# --- SMAPI --------------------------------------------------------------------------------------


class SmapiMessageCreateSerializer(StrictSerializer):
    to = UsPhoneField(help_text="A US number, e.g. 8185551234.")
    body = BodyField(help_text=f"The text, 1 to {MAX_BODY_LENGTH} characters.")
    practice_id = StrictUUIDField(help_text="The practice whose default line sends it.")


class SmapiMessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=MessageStatus.choices)

    def to_representation(self, instance: Message) -> dict[str, Any]:
        return {"id": str(instance.pk), "status": instance.status}
