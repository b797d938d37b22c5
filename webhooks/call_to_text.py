"""The URL a call-center phone system calls to text a caller: `/webhook/call-to-text/<token>/`
(alias `/webhook/jive/<token>/`, the path older phone-system configurations use).

DESIGN.md's contract: GET or POST with `CALLER_ID_NUMBER` in the query string, a form or a JSON
body. 202 `{"message_id", "channel_id"}` when the caller is texted; 200 with the earlier ids and
`"deduplicated": true` when this workflow texted the caller minutes ago; 400 `invalid_caller_id`;
403 `ip_not_allowed`; 404 for any token that is not an active workflow's (one body for all);
422 for the send path's refusals (`recipient_opted_out`, `line_inactive`); 429 `rate_limited`
with Retry-After. Every error is the contract's `{"error": {"code", "message", "field"}}`.

The token is the credential, and it is in the path: refusals are logged here with the token's
prefix only (which names the workflow); Django's request logger writes the path of every 4xx as
usual, with the token redacted by the logging filter every handler carries (artera/logging.py).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from artera.api import error_response
from artera.clientaddr import client_ip
from artera.errors import ApplicationError, InvalidInput
from artera.jsonbody import json_text_loads

from .api.network import ip_allowed
from .models import CallToTextWorkflow
from .selectors import call_to_text_workflow_get_by_token
from .services import (
    CALLER_ID_FIELD,
    CallToTextRateLimited,
    call_to_text_token_rate_check,
    call_to_text_trigger,
)

logger = logging.getLogger(__name__)

# A phone system sends one short field; anything much larger is not one.
MAX_BODY_BYTES = 16 * 1024
# Bodies Django parses into request.POST; any other body that looks like JSON is read as JSON
# (some phone systems post JSON without a Content-Type).
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class _IpNotAllowed(ApplicationError):
    http_status = 403
    default_code = "ip_not_allowed"


class _TooLarge(ApplicationError):
    http_status = 413
    default_code = "request_too_large"


@csrf_exempt  # called by phone systems, which have no session: the token is the credential
@never_cache
def call_to_text_hook(request: HttpRequest, token: str) -> JsonResponse:
    if request.method not in ("GET", "POST"):
        response = error_response("method_not_allowed", "Use GET or POST.", status_code=405)
        response["Allow"] = "GET, POST"
        return response
    workflow = call_to_text_workflow_get_by_token(token=token)
    if workflow is None:
        return _not_found()
    ip = client_ip(request)
    try:
        if not ip_allowed(allowlist=workflow.allowed_ips, ip=ip):
            raise _IpNotAllowed("This workflow does not accept calls from this address.")
        call_to_text_token_rate_check(workflow=workflow)
        result = call_to_text_trigger(
            workflow=workflow, caller_id=_caller_id(request), client_ip=ip
        )
    except ApplicationError as exc:
        if exc.http_status == 404:  # switched off while this request ran
            return _not_found()
        return _error(workflow, exc)
    body: dict[str, Any] = {
        "message_id": str(result.message.pk),
        "channel_id": str(result.message.channel_id),
    }
    if result.deduplicated:
        return JsonResponse({**body, "deduplicated": True}, status=200)
    return JsonResponse(body, status=202)


@csrf_exempt  # a POST must meet the JSON 404, not the CSRF check's HTML 403
def webhook_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Any other URL under /webhook/: the same JSON 404 as an unknown token."""
    return _not_found()


def _caller_id(request: HttpRequest) -> object:
    """`CALLER_ID_NUMBER` from the query string, else from a JSON or form body."""
    if CALLER_ID_FIELD in request.GET:
        return request.GET[CALLER_ID_FIELD]
    if request.method != "POST":
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise _TooLarge("The request body is too large.")
    try:
        if request.content_type == "application/json" or (
            request.content_type not in _FORM_TYPES and request.body.lstrip().startswith(b"{")
        ):
            data = json_text_loads(request.body or b"{}")
            return data.get(CALLER_ID_FIELD) if isinstance(data, dict) else None
        return request.POST.get(CALLER_ID_FIELD)
    except RequestDataTooBig as exc:
        raise _TooLarge("The request body is too large.") from exc
    except MultiPartParserError as exc:  # e.g. a multipart body without a valid boundary
        raise InvalidInput(
            "The body could not be read as a form; send CALLER_ID_NUMBER in the query string, "
            "a form or a JSON object.",
            code="malformed_body",
        ) from exc


def _not_found() -> JsonResponse:
    return error_response("not_found", "Not found.", status_code=404)


def _error(workflow: CallToTextWorkflow, exc: ApplicationError) -> JsonResponse:
    response = JsonResponse(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, CallToTextRateLimited):
        response["Retry-After"] = str(exc.retry_after)
    logger.info(
        "Call-to-text workflow %s… refused a call: %s %s",
        workflow.token_prefix,
        exc.http_status,
        exc.code,
    )
    return response
