"""OpenAPI description of the integrator APIs (drf-spectacular): security schemes, errors.

The security schemes are registered by defining the extension classes, so `views` imports this
module before any schema is generated.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from webhooks.models import API_SCOPES

from .idempotency import IDEMPOTENCY_KEY_MAX_LENGTH
from .serializers import ErrorSerializer

TOKEN_URL = "/oauth/token/"  # noqa: S105 (a URL, not a secret)


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "webhooks.api.authentication.ApiClientAuthentication"
    name = "oauth2"

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
        return {self.name: list(getattr(auto_schema.view, "required_scopes", []))}

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials: POST `grant_type=client_credentials` "
            f"to `{TOKEN_URL}` with your client id and secret (HTTP Basic), then send "
            "`Authorization: Bearer <access_token>`. Tokens last one hour.",
            "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": dict(API_SCOPES)}},
        }


class SmapiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "webhooks.api.authentication.SmapiKeyAuthentication"
    name = "smapiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "Legacy SMAPI key, issued by an administrator.",
        }


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    type={
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
        "pattern": "^[\\x20-\\x7E]+$",
    },
    description="Any unique string (a UUID is good). A retry with the same key and body gets "
    "the first response (with `Idempotent-Replayed: true`) and sends nothing again; the same "
    "key with another body is refused with 422 `idempotency_key_reuse`. Keys are kept for at "
    "least 24 hours.",
)

BATCH = frozenset({"batch"})  # errors of the batch request as a whole
MAPI = frozenset({"mapi"}) | BATCH
SMAPI = frozenset({"smapi"})
BOTH = MAPI | SMAPI


def _example(
    status: int, code: str, message: str, field: str | None = None, apis: frozenset[str] = BOTH
) -> tuple[OpenApiExample, frozenset[str]]:
    example = OpenApiExample(
        code,
        value={"error": {"code": code, "message": message, "field": field}},
        status_codes=[str(status)],
        response_only=True,
    )
    return example, apis


_ERRORS: dict[int, tuple[str, list[tuple[OpenApiExample, frozenset[str]]]]] = {
    400: (
        "Malformed or invalid input.",
        [
            _example(400, "malformed_json", "The body is not valid JSON: Expecting value."),
            _example(
                400, "json_too_deep", "JSON may nest arrays and objects at most 32 levels deep."
            ),
            _example(400, "invalid_body", "Must be a JSON object."),
            _example(400, "unknown_field", "Unknown field `secure_message`.", "secure_message"),
            _example(400, "missing_field", "`to` is required.", "to"),
            _example(400, "invalid_type", "Must be a string.", "to"),
            _example(
                400,
                "invalid_phone",
                "Enter a valid US phone number, e.g. +18185551234, 8185551234 or (818) 555-1234.",
                "to",
            ),
            _example(400, "empty_body", "Write the text to send.", "body"),
            _example(
                400,
                "body_too_long",
                "A text can be at most 1600 characters (this one has 1700).",
                "body",
            ),
            _example(
                400,
                "invalid_uuid",
                "Must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6.",
                "practice_id",
            ),
            _example(
                400, "missing_practice", "Give practice_id or location_id.", "practice_id", MAPI
            ),
            _example(
                400,
                "ambiguous_practice",
                "Give practice_id or location_id, not both.",
                "location_id",
                MAPI,
            ),
            _example(
                400,
                "invalid_date",
                "Must be a past date written YYYY-MM-DD.",
                "patient.date_of_birth",
                MAPI,
            ),
            _example(
                400,
                "metadata_too_large",
                "May be at most 2048 bytes as JSON (this is 2304).",
                "metadata",
                MAPI,
            ),
            _example(
                400,
                "metadata_too_deep",
                "May nest objects and arrays at most 10 levels deep, counting metadata itself "
                "(this has 12).",
                "metadata",
                MAPI,
            ),
            _example(
                400, "invalid_callback_url", "Webhook URLs must use https.", "callback_url", MAPI
            ),
            _example(
                400,
                "invalid_datetime",
                "Must be an ISO 8601 date and time with an offset, e.g. 2026-11-21T09:00:00-05:00.",
                "send_at",
                MAPI,
            ),
            _example(
                400,
                "send_at_in_past",
                "send_at is in the past; leave it out to send now.",
                "send_at",
                MAPI,
            ),
            _example(
                400, "send_at_too_far", "send_at may be at most 35 days ahead.", "send_at", MAPI
            ),
            _example(
                400, "valid_until_in_past", "valid_until is in the past.", "valid_until", MAPI
            ),
            _example(
                400,
                "valid_until_before_send_at",
                "valid_until must be after send_at.",
                "valid_until",
                MAPI,
            ),
            _example(400, "empty_batch", "Give at least one message.", "messages", BATCH),
            _example(
                400,
                "too_many_messages",
                "A batch may hold at most 500 messages (this one has 501); split it.",
                "messages",
                BATCH,
            ),
            _example(
                400,
                "invalid_idempotency_key",
                "An Idempotency-Key is 1 to 255 characters.",
                "Idempotency-Key",
                MAPI,
            ),
        ],
    ),
    401: (
        "No credentials, or ones that are unknown, expired or switched off.",
        [
            _example(
                401,
                "not_authenticated",
                "Send an access token in the Authorization header: `Bearer <token>`.",
                apis=MAPI,
            ),
            _example(401, "invalid_token", "This access token is not valid.", apis=MAPI),
            _example(
                401, "token_expired", "This access token has expired; get a new one.", apis=MAPI
            ),
            _example(401, "inactive_client", "This API client is switched off.", apis=MAPI),
            _example(401, "invalid_api_key", "This API key is not valid.", apis=SMAPI),
        ],
    ),
    403: (
        "The token lacks the scope, or the client may not call from this IP address.",
        [
            _example(
                403,
                "insufficient_scope",
                "This token does not carry the scope "
                "messages:send; ask for it when you get a token (the client must be "
                "allowed it).",
                apis=MAPI,
            ),
            _example(
                403,
                "ip_not_allowed",
                "This API client may not call from this IP address.",
                apis=MAPI,
            ),
        ],
    ),
    404: (
        "No such message in your enterprise.",
        [_example(404, "not_found", "No message with this id.")],
    ),
    409: (
        "The message is no longer scheduled.",
        [
            _example(
                409,
                "not_scheduled",
                "Only a scheduled message can be canceled; this one was released already.",
                apis=MAPI,
            )
        ],
    ),
    413: (
        "The request body is too large.",
        [
            _example(413, "request_too_large", "The request body may be at most 65536 bytes."),
        ],
    ),
    415: (
        "The body is not JSON.",
        [
            _example(
                415,
                "unsupported_media_type",
                'Unsupported media type "text/plain" in '
                "request. Send the body as JSON, with Content-Type: application/json.",
            )
        ],
    ),
    422: (
        "Well-formed, but refused by a rule.",
        [
            _example(
                422,
                "unknown_practice",
                "No practice of your enterprise has this id.",
                "practice_id",
            ),
            _example(
                422, "unknown_line", "This practice has no line with this id.", "line_id", MAPI
            ),
            _example(
                422,
                "unknown_patient",
                "No patient of this enterprise has this MRN; give "
                "first_name, last_name and date_of_birth to add one.",
                "patient.mrn",
                MAPI,
            ),
            _example(
                422,
                "recipient_opted_out",
                "This number has opted out of texts from this line.",
                "to",
            ),
            _example(
                422,
                "secure_requires_verified_patient",
                "Secure messages can only go to a patient the EMR has verified.",
                "secure",
                MAPI,
            ),
            _example(
                422,
                "idempotency_key_reuse",
                "This Idempotency-Key was already used with "
                "a different request body; use a new key for a new message.",
                "Idempotency-Key",
                MAPI,
            ),
            _example(
                422,
                "no_default_line",
                "This practice has no default line to send from; name a line.",
                "line_id",
            ),
            _example(422, "line_inactive", "This line is switched off.", "line_id"),
        ],
    ),
    429: (
        "Too many requests: wait the Retry-After header's seconds.",
        [_example(429, "rate_limited", "Too many requests; retry after Retry-After seconds.")],
    ),
}


def error_responses(*statuses: int, api: str = "mapi") -> dict[int, OpenApiResponse]:
    """Documented error responses of `api` ("mapi", "batch" or "smapi"): the error schema, and
    an example of each code the endpoint can answer with."""
    return {
        status: OpenApiResponse(
            response=ErrorSerializer,
            description=_ERRORS[status][0],
            examples=[example for example, apis in _ERRORS[status][1] if api in apis],
        )
        for status in statuses
    }


def postprocess_schema(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: document the response headers the API sets
    (Retry-After on 429, Idempotent-Replayed on a replayed send)."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if "429" in responses:
                responses["429"].setdefault("headers", {})["Retry-After"] = {
                    "description": "Seconds to wait before the next request.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            accepted = "202" if "202" in responses else "207"
            if accepted in responses and any(
                p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])
            ):
                responses[accepted].setdefault("headers", {})["Idempotent-Replayed"] = {
                    "description": "`true` when this is the stored response of an earlier "
                    "request with the same Idempotency-Key.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
    return result
