"""Views of the send path: short links, provider callbacks, and the simulator's page and API.

Each one parses, calls one service, and renders; `ApplicationError`s become the contract's
`{"error": {"code", "message", "field"}}` (JSON endpoints) or a message on the page.
"""

from __future__ import annotations

import functools
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
from artera.jsonbody import json_text_loads
from practices.models import Line

from . import simulator, simulator_phone
from .gateways import SmsGateway, gateway_for_callbacks, gateway_get
from .models import Message, SimulatorNumber, SimulatorText
from .services import message_receive_inbound, message_status_report, short_link_follow

logger = logging.getLogger(__name__)

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


# --- Provider callbacks -------------------------------------------------------------------------


def _callback_gateway(backend: str) -> SmsGateway:
    gateway = gateway_for_callbacks(backend)
    if gateway is None:
        raise Http404("No SMS provider takes callbacks here.")
    return gateway


def _refusal(exc: ApplicationError) -> HttpResponse:
    # A callback we cannot read (a NUL character, an oversized id): the provider logs the 4xx.
    return HttpResponse(exc.message, status=exc.http_status, content_type="text/plain")


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest, backend: str) -> HttpResponse:
    """`POST /webhooks/sms/<backend>/`: a patient's text, verified and read by its provider's
    gateway, then handed to the one inbound path."""
    gateway = _callback_gateway(backend)
    if not gateway.verify_request(request):
        return HttpResponseForbidden(f"Invalid {gateway.label} signature.")
    try:
        inbound = gateway.parse_inbound(request)
    except ApplicationError as exc:
        return _refusal(exc)
    try:
        message_receive_inbound(
            to=inbound.to_number,
            from_=inbound.from_number,
            body=inbound.body,
            provider_message_id=inbound.provider_message_id,
        )
    except ApplicationError as exc:
        # Answering with an error would only make the provider log it: record it here instead.
        logger.warning("%s inbound text refused: %s (%s)", gateway.label, exc.code, exc.message)
    return gateway.inbound_response()


@csrf_exempt
@require_POST
def sms_status(request: HttpRequest, backend: str) -> HttpResponse:
    """`POST /webhooks/sms/<backend>/status/`: a provider's report on one of our messages,
    handed to the one status path."""
    gateway = _callback_gateway(backend)
    if not gateway.verify_request(request):
        return HttpResponseForbidden(f"Invalid {gateway.label} signature.")
    try:
        report = gateway.parse_status(request)
    except ApplicationError as exc:
        return _refusal(exc)
    message_status_report(
        provider_message_id=report.provider_message_id,
        message_id=report.message_id,
        status=report.status,
        error_code=report.error_code,
    )
    return gateway.status_response()


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
    data = json_text_loads(request.body or b"null", malformed_code="invalid_json")
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
    body = request.POST.get("body", "")
    try:
        simulator_phone.simulator_patient_texts(
            from_number=number, to_number=request.POST.get("line", ""), body=body
        )
    except ApplicationError as exc:
        return _phone_refused(request, number, exc, draft=body)
    if not request.htmx:  # type: ignore[attr-defined]
        return _phone_page_redirect(number)
    return render(request, "simulator/_phone.html", _phone_context(number.strip()))


@simulator_only
@require_POST
def simulator_number_type(request: HttpRequest) -> HttpResponse:
    number = request.POST.get("number", "")
    try:
        simulator.simulator_number_set(number=number, kind=request.POST.get("type", ""))
    except ApplicationError as exc:
        return _phone_refused(request, number, exc)
    if not request.htmx:  # type: ignore[attr-defined]
        return _phone_page_redirect(number)
    return render(request, "simulator/_phone.html", _phone_context(number.strip()))


def _phone_refused(
    request: HttpRequest, number: str, exc: ApplicationError, *, draft: str = ""
) -> HttpResponse:
    """The phone again, with the refusal and the typed text kept: the panel for htmx (which
    swaps only 2xx answers), else the whole page as a 400."""
    context = _phone_context(number.replace("\x00", "").strip())
    context["error"] = exc.message
    context["draft"] = draft.replace("\x00", "")
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "simulator/_phone.html", context)
    return render(request, "simulator/phone.html", context, status=exc.http_status)


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
