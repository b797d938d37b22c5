"""The integrator API's endpoints: parse, call a service (or selector), render.

MAPI (`/api/v1/messages`, OAuth bearer tokens) and the legacy SMAPI
(`/api/smapi/v1/messages`, `X-API-Key`). Errors are rendered by `artera.api.exception_handler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiExample, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from artera.api import JsonErrorsMixin, JsonOnlyNegotiation, refusal_status_and_body
from artera.errors import ApplicationError, InvalidInput
from messaging.models import Message
from messaging.selectors import message_get_for_api_client
from webhooks.models import SmapiKey

from . import schema
from .authentication import (
    ApiClientAuthentication,
    HasScope,
    HasSmapiKey,
    SmapiKeyAuthentication,
    api_client_of,
)
from .idempotency import (
    StoredResponse,
    idempotency_key_parse,
    idempotent_call,
    request_fingerprint,
)
from .parsers import ApiBatchJSONParser, ApiJSONParser
from .serializers import (
    BATCH_MAX_MESSAGES,
    MessageBatchCreateSerializer,
    MessageBatchSerializer,
    MessageCreateSerializer,
    MessageDetailSerializer,
    MessageSerializer,
    SmapiMessageCreateSerializer,
    SmapiMessageSerializer,
)
from .services import (
    PatientIdentity,
    api_message_cancel,
    api_message_send,
    api_message_send_each,
    smapi_message_send,
)
from .throttling import ApiClientRateThrottle


class ApiView(APIView):
    """Common to every integrator endpoint: JSON in and out, the per-client rate limit."""

    parser_classes = [ApiJSONParser]
    throttle_classes = [ApiClientRateThrottle]
    content_negotiation_class = JsonOnlyNegotiation


class MapiView(ApiView):
    authentication_classes = [ApiClientAuthentication]
    permission_classes = [HasScope]


_SEND_EXAMPLES = [
    OpenApiExample(
        "To a phone number",
        value={
            "to": "(818) 555-1234",
            "body": "Your appointment is tomorrow at 9:00. Reply C to confirm.",
            "practice_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Secure, to a verified patient by MRN and EMR location",
        value={
            "to": "+18185551234",
            "body": "Your lab results are ready.",
            "location_id": "DEP10101",
            "patient": {
                "mrn": "E1234567",
                "first_name": "Maria",
                "last_name": "Lopez",
                "date_of_birth": "1984-03-09",
            },
            "secure": True,
            "callback_url": "https://emr.example.org/artera/status",
            "metadata": {"appointment_id": "A-98765"},
        },
        request_only=True,
    ),
    OpenApiExample(
        "Accepted",
        value={
            "id": "0b9f3c3e-7b1f-4c55-9d0e-8f7f3a4b2c11",
            "status": "received",
            "error_code": None,
            "to": "+18185551234",
            "from": "+12135550100",
            "body": "Your appointment is tomorrow at 9:00. Reply C to confirm.",
            "segments": 1,
            "secure": False,
            "practice_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "line_id": "6a1f7c2e-3d4b-4e5f-8a9b-0c1d2e3f4a5b",
            "channel": {"id": "9c8b7a6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d", "verified": False},
            "patient_id": None,
            "metadata": {},
            "created_at": "2026-11-21T14:02:03.123456Z",
        },
        response_only=True,
        status_codes=["202"],
    ),
]


class MessageCreateView(MapiView):
    required_scopes = ["messages:send"]

    @extend_schema(
        operation_id="messages_send",
        summary="Send a text",
        description="Stores the message as `received` and sends it nearly at once; its status "
        "then moves to `sent` and `delivered`, `undelivered` or `failed`, reported by "
        "`message.status` webhooks and `GET /api/v1/messages/{id}`. With `send_at` (or when "
        "quiet hours hold it: the client's or the practice's setting, 8:00 to 21:00 in the "
        "patient's time zone) it is stored as `scheduled`, `send_at` says when it goes, and "
        "it becomes `received` then; `valid_until` makes it fail with `expired` rather than go "
        "late. Requires the `messages:send` scope.",
        request=MessageCreateSerializer,
        parameters=[schema.IDEMPOTENCY_KEY_PARAMETER],
        responses={
            202: MessageSerializer,
            **schema.error_responses(400, 401, 403, 413, 415, 422, 429),
        },
        examples=_SEND_EXAMPLES,
        tags=["MAPI"],
    )
    def post(self, request: Request) -> Response:
        api_client = api_client_of(request)
        key = idempotency_key_parse(request.headers.get("Idempotency-Key"))
        data = request.data  # parsed here: a bad body is refused before anything is written
        fingerprint = request_fingerprint(
            method=request.method or "POST", path=request.path, data=data
        )

        def send() -> StoredResponse:
            serializer = MessageCreateSerializer(data=data)
            serializer.is_valid(raise_exception=True)
            message = api_message_send(api_client=api_client, **_send_arguments(serializer))
            return StoredResponse(status=202, body=MessageSerializer(message).data)

        response = idempotent_call(
            api_client=api_client, key=key, fingerprint=fingerprint, call=send
        )
        headers = {"Idempotent-Replayed": "true"} if response.replayed else None
        return Response(response.body, status=response.status, headers=headers)


def _send_arguments(serializer: MessageCreateSerializer) -> dict[str, Any]:
    data = serializer.validated_data
    patient = data.get("patient")
    return {
        "to": data["to"],
        "body": data["body"],
        "practice_id": data.get("practice_id"),
        "location_id": data.get("location_id"),
        "line_id": data.get("line_id"),
        "patient": PatientIdentity(**patient) if patient else None,
        "secure": bool(data.get("secure")),
        "callback_url": data.get("callback_url") or "",
        "metadata": data.get("metadata") or {},
        "send_at": data.get("send_at"),
        "valid_until": data.get("valid_until"),
    }


_BATCH_EXAMPLES = [
    OpenApiExample(
        "Two reminders, one to a number that is not a phone number",
        value={
            "messages": [
                {
                    "to": "(818) 555-1234",
                    "body": "Your appointment is tomorrow at 9:00. Reply C to confirm.",
                    "practice_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                    "metadata": {"appointment_id": "A-98765"},
                },
                {
                    "to": "555",
                    "body": "Your appointment is tomorrow at 10:30.",
                    "location_id": "DEP10101",
                },
            ]
        },
        request_only=True,
    ),
    OpenApiExample(
        "One accepted, one refused",
        value={
            "results": [
                {"status": 202, "message": _SEND_EXAMPLES[-1].value},
                {
                    "status": 400,
                    "error": {
                        "code": "invalid_phone",
                        "message": "Enter a valid US phone number, e.g. +18185551234, "
                        "8185551234 or (818) 555-1234.",
                        "field": "to",
                    },
                },
            ]
        },
        response_only=True,
        status_codes=["207"],
    ),
]


class MessageBatchCreateView(MapiView):
    required_scopes = ["messages:send"]
    parser_classes = [ApiBatchJSONParser]

    @extend_schema(
        operation_id="messages_send_batch",
        summary="Send many texts in one request",
        description=f"1 to {BATCH_MAX_MESSAGES} messages, each exactly the body of `POST "
        '/api/v1/messages`. Answers 207 with one result per item, in item order: `{"status": '
        '202, "message": {…}}` for an accepted item (the body a single send answers), or '
        '`{"status": 4xx, "error": {…}}` with the error a single send of that item would '
        "get. A refused item writes nothing and blocks no other. Errors of the whole request "
        "(not JSON, no `messages` list, no item or more than 500, a bad token) answer as for a "
        "single send, and then nothing is sent. The `Idempotency-Key` covers the whole batch. "
        "A batch counts as one request against the rate limit. Requires the `messages:send` "
        "scope.",
        request=MessageBatchCreateSerializer,
        parameters=[schema.IDEMPOTENCY_KEY_PARAMETER],
        responses={
            207: MessageBatchSerializer,
            **schema.error_responses(400, 401, 403, 413, 415, 422, 429, api="batch"),
        },
        examples=_BATCH_EXAMPLES,
        tags=["MAPI"],
    )
    def post(self, request: Request) -> Response:
        api_client = api_client_of(request)
        key = idempotency_key_parse(request.headers.get("Idempotency-Key"))
        data = request.data
        items = _batch_items(data)  # the request's own errors, before anything is written
        fingerprint = request_fingerprint(
            method=request.method or "POST", path=request.path, data=data
        )

        def send() -> StoredResponse:
            parsed = [_batch_item_parse(item) for item in items]
            outcomes = api_message_send_each(
                api_client=api_client,
                sends=[None if isinstance(p, ValidationError) else p for p in parsed],
            )
            results = [
                _batch_result(outcome if outcome is not None else cast(ValidationError, p))
                for p, outcome in zip(parsed, outcomes, strict=True)
            ]
            return StoredResponse(status=207, body={"results": results})

        response = idempotent_call(
            api_client=api_client, key=key, fingerprint=fingerprint, call=send
        )
        headers = {"Idempotent-Replayed": "true"} if response.replayed else None
        return Response(response.body, status=response.status, headers=headers)


def _batch_items(data: Any) -> list[Any]:
    """The batch's items, or the refusal of the whole request."""
    if not isinstance(data, Mapping):
        raise InvalidInput("Must be a JSON object.", code="invalid_body")
    unknown = [name for name in data if name != "messages"]
    if unknown:
        raise InvalidInput(
            f"Unknown field `{unknown[0]}`.", code="unknown_field", field=str(unknown[0])
        )
    if "messages" not in data:
        raise InvalidInput("`messages` is required.", code="missing_field", field="messages")
    items = data["messages"]
    if not isinstance(items, list):
        raise InvalidInput("Must be a list of messages.", code="invalid_type", field="messages")
    if not items:
        raise InvalidInput("Give at least one message.", code="empty_batch", field="messages")
    if len(items) > BATCH_MAX_MESSAGES:
        # 400 like any other schema violation (`maxItems`), as `empty_batch` is for `minItems`.
        raise InvalidInput(
            f"A batch may hold at most {BATCH_MAX_MESSAGES} messages (this one has "
            f"{len(items)}); split it.",
            code="too_many_messages",
            field="messages",
        )
    return items


def _batch_item_parse(item: Any) -> dict[str, Any] | ValidationError:
    serializer = MessageCreateSerializer(data=item)
    if not serializer.is_valid():
        return ValidationError(serializer.errors)
    return _send_arguments(serializer)


def _batch_result(
    outcome: Message | ApplicationError | ValidationError,
) -> dict[str, Any]:
    if isinstance(outcome, Message):
        return {"status": 202, "message": MessageSerializer(outcome).data}
    status, body = refusal_status_and_body(outcome)
    return {"status": status, "error": body["error"]}


@method_decorator(never_cache, name="dispatch")  # a patient's text: never kept by a cache
class MessageDetailView(MapiView):
    @property
    def required_scopes(self) -> list[str]:
        # Reading needs `messages:read`; canceling changes what is sent: `messages:send`.
        return ["messages:send"] if self.request.method == "DELETE" else ["messages:read"]

    @extend_schema(
        operation_id="messages_retrieve",
        summary="Read a message and its delivery status",
        description="Any message of your enterprise; others' ids are 404. Requires the "
        "`messages:read` scope.",
        responses={200: MessageDetailSerializer, **schema.error_responses(401, 403, 404, 429)},
        tags=["MAPI"],
    )
    def get(self, request: Request, message_id: str) -> Response:
        message = message_get_for_api_client(
            api_client=api_client_of(request), message_id=message_id
        )
        return Response(MessageDetailSerializer(message).data)

    @extend_schema(
        operation_id="messages_cancel",
        summary="Cancel a scheduled message",
        description="Cancels a message that is still `scheduled` (sent with `send_at`, or held "
        "by quiet hours): it becomes `canceled`, a final status, reported by a `message.status` "
        "webhook, and is never sent. 409 `not_scheduled` once it was released (or is final). "
        "Any message of your enterprise; others' ids are 404. Requires the `messages:send` "
        "scope.",
        responses={
            204: None,
            **schema.error_responses(401, 403, 404, 409, 429),
        },
        tags=["MAPI"],
    )
    def delete(self, request: Request, message_id: str) -> Response:
        api_message_cancel(api_client=api_client_of(request), message_id=message_id)
        return Response(status=204)


class SmapiMessageCreateView(ApiView):
    authentication_classes = [SmapiKeyAuthentication]
    permission_classes = [HasSmapiKey]

    @extend_schema(
        operation_id="smapi_messages_send",
        summary="Send a text (legacy SMAPI)",
        description="The legacy API: a plain text from the practice's default line. No "
        "webhooks, no idempotency; new integrations use MAPI.",
        request=SmapiMessageCreateSerializer,
        responses={
            202: SmapiMessageSerializer,
            **schema.error_responses(400, 401, 413, 415, 422, 429, api="smapi"),
        },
        tags=["SMAPI (legacy)"],
    )
    def post(self, request: Request) -> Response:
        serializer = SmapiMessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        smapi_key = cast(SmapiKey, request.auth)  # HasSmapiKey let only that through
        message = smapi_message_send(smapi_key=smapi_key, **serializer.validated_data)
        return Response(SmapiMessageSerializer(message).data, status=202)


class ApiSchemaView(JsonErrorsMixin, SpectacularAPIView):
    """The OpenAPI document at /api/schema/ (YAML; `?format=json` for JSON)."""


class ApiDocsView(JsonErrorsMixin, SpectacularSwaggerSplitView):
    """Swagger UI at /api/docs/, every asset served from this server (drf-spectacular-sidecar),
    its setup script loaded from a URL rather than inline so the site's CSP holds."""

    template_name = "api/docs.html"
    title = "Artera messaging API"
