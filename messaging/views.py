"""Views of the send path: short links, provider webhooks, and the simulator's page and API.

Each one parses, calls one service, and renders; `ApplicationError`s become the contract's
`{"error": {"code", "message", "field"}}` (JSON endpoints) or a message on the page.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from artera.errors import ApplicationError, InvalidInput
from practices.models import Line

from . import simulator, simulator_phone
from .gateways import gateway_get
from .models import Message, SimulatorNumber, SimulatorText
from .services import message_receive_inbound, message_status_report, short_link_follow

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

View = Callable[..., HttpResponse]


# --- Short links --------------------------------------------------------------------------------


@require_GET
@never_cache
def short_link_redirect(request: HttpRequest, code: str) -> HttpResponse:
    try:
        target = short_link_follow(code=code)
    except ApplicationError as exc:
        raise Http404(exc.message) from exc
    return HttpResponseRedirect(target)


# --- Twilio callbacks ---------------------------------------------------------------------------


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    gateway = gateway_get("twilio")
    if not gateway.verify_request(request):
        return HttpResponseForbidden("Invalid Twilio signature.")
    try:
        inbound = gateway.parse_inbound(request)
        message_receive_inbound(
            to=inbound.to_number,
            from_=inbound.from_number,
            body=inbound.body,
            provider_message_id=inbound.provider_message_id,
        )
    except ApplicationError as exc:
        # Answering with an error would only make Twilio log it: record it here instead.
        logger.warning("Twilio inbound text refused: %s (%s)", exc.code, exc.message)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    gateway = gateway_get("twilio")
    if not gateway.verify_request(request):
        return HttpResponseForbidden("Invalid Twilio signature.")
    try:
        report = gateway.parse_status(request)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.http_status, content_type="text/plain")
    message_status_report(
        provider_message_id=report.provider_message_id,
        message_id=report.message_id,
        status=report.status,
        error_code=report.error_code,
    )
    return HttpResponse(status=204)


# --- Simulator ----------------------------------------------------------------------------------


def simulator_only(view: View) -> View:
    """The simulator's pages exist only while it is the SMS backend, and behind HTTPS only for a
    public demo that opted in: 404 otherwise."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not simulator.simulator_pages_served():
            raise Http404("The SMS simulator is off, or not served on this deployment.")
        return view(request, *args, **kwargs)

    return wrapped


def _error_json(exc: ApplicationError) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.http_status)


def _json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The body is not valid JSON.", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise InvalidInput("Send a JSON object.", code="invalid_json")
    return data


@csrf_exempt
@simulator_only
@require_http_methods(["GET"])
def simulator_api_messages(request: HttpRequest) -> JsonResponse:
    """`GET /simulator/api/messages?to=+1…[&from=+1…]`: every text the carrier carried to (and
    from) a number, oldest first."""
    try:
        texts = simulator.simulator_texts(
            simulator.TextFilter(to=request.GET.get("to"), from_=request.GET.get("from"))
        )
        return JsonResponse({"results": [simulator.simulator_text_as_json(t) for t in texts]})
    except ApplicationError as exc:
        return _error_json(exc)


@csrf_exempt
@simulator_only
@require_http_methods(["POST"])
def simulator_api_inbound(request: HttpRequest) -> JsonResponse:
    """`POST /simulator/api/inbound {"from", "to", "body"}`: the patient texts a line."""
    try:
        inbound = gateway_get("simulator").parse_inbound(request)
        message = simulator_phone.simulator_patient_texts(
            from_number=inbound.from_number, to_number=inbound.to_number, body=inbound.body
        )
    except ApplicationError as exc:
        return _error_json(exc)
    return JsonResponse(
        {
            "id": message.provider_message_id,
            "from": message.from_number,
            "to": message.to_number,
            "body": message.body,
            "status": "delivered",
            "message_id": str(message.id),
            "channel_id": str(message.channel_id),
        },
        status=202,
    )


@csrf_exempt
@simulator_only
@require_http_methods(["POST"])
def simulator_api_numbers(request: HttpRequest) -> JsonResponse:
    """`POST /simulator/api/numbers {"number", "type"}`: how the carrier treats a number."""
    try:
        data = _json_object(request)
        row = simulator.simulator_number_set(number=data.get("number"), kind=data.get("type"))
    except ApplicationError as exc:
        return _error_json(exc)
    return JsonResponse({"number": row.number, "type": row.kind})


@simulator_only
@require_GET
def simulator_page(request: HttpRequest) -> HttpResponse:
    """A patient's phone: pick a number, read its texts, type a reply."""
    number = request.GET.get("number", "").strip()
    return render(request, "simulator/phone.html", _phone_context(number))


@simulator_only
@require_GET
def simulator_thread(request: HttpRequest) -> HttpResponse:
    """The texts of one phone (the page polls this)."""
    number = request.GET.get("number", "").strip()
    return render(request, "simulator/_thread.html", _phone_context(number))


@simulator_only
@require_POST
def simulator_reply(request: HttpRequest) -> HttpResponse:
    """The patient types a text to a line."""
    number = request.POST.get("number", "")
    error = None
    try:
        simulator_phone.simulator_patient_texts(
            from_number=number,
            to_number=request.POST.get("line", ""),
            body=request.POST.get("body", ""),
        )
    except ApplicationError as exc:
        error = exc.message
    if not request.htmx:  # type: ignore[attr-defined]
        return _phone_page_redirect(number)
    context = _phone_context(number.strip())
    context["error"] = error
    context["draft"] = request.POST.get("body", "") if error else ""
    return render(request, "simulator/_phone.html", context)


@simulator_only
@require_POST
def simulator_number_type(request: HttpRequest) -> HttpResponse:
    number = request.POST.get("number", "")
    error = None
    try:
        simulator.simulator_number_set(number=number, kind=request.POST.get("type", ""))
    except ApplicationError as exc:
        error = exc.message
    if not request.htmx:  # type: ignore[attr-defined]
        return _phone_page_redirect(number)
    context = _phone_context(number.strip())
    context["error"] = error
    return render(request, "simulator/_phone.html", context)


def _phone_page_redirect(number: str) -> HttpResponse:
    return redirect(f"{reverse('simulator')}?{urlencode({'number': number.strip()})}")


def _phone_context(number: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "number": number,
        "texts": [],
        "error": None,
        "draft": "",
        "kind": SimulatorNumber.Kind.MOBILE,
        "kinds": SimulatorNumber.Kind.choices,
        "lines": Line.objects.filter(is_active=True).select_related("practice"),
        "recent_numbers": _recent_numbers(),
        "reply_line": "",
        "phone_ok": False,
    }
    if not number:
        return context
    try:
        number = simulator.simulator_number_normalize(number)
    except ApplicationError as exc:
        context["error"] = exc.message
        return context
    texts = list(simulator.simulator_texts(simulator.TextFilter(either=number)))
    # Where each of the patient's texts landed on the platform.
    landed = {
        m.provider_message_id: m
        for m in Message.objects.filter(
            direction=Message.Direction.INBOUND,
            provider_message_id__in=[str(t.id) for t in texts if t.direction == "mo"],
        ).select_related("practice", "line")
    }
    context.update(
        phone_ok=True,
        number=number,
        texts=[(text, landed.get(str(text.id))) for text in texts],
        kind=simulator.simulator_number_kind(number),
        # Reply to the line that texted this phone last, by default.
        reply_line=next((t.from_number for t in reversed(texts) if t.direction == "mt"), ""),
    )
    return context


def _recent_numbers(limit: int = 12) -> list[str]:
    numbers: list[str] = []
    for to_number in (
        SimulatorText.objects.filter(direction=SimulatorText.Direction.TO_PATIENT)
        .order_by("-created_at")
        .values_list("to_number", flat=True)[:200]
    ):
        if to_number not in numbers:
            numbers.append(to_number)
        if len(numbers) >= limit:
            break
    return numbers
