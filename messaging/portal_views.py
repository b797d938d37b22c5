"""The secure messaging portal: `/secure/<token>/`, where a patient reads and answers secure
messages (`messaging.secure`).

Pages: the date-of-birth check, the texted code (when the link asks for one), and the thread
with its reply form. The portal's session is its own entry in the (server-side) Django session,
`request.session["secure_portal"] = {"link_id", "stage", "verified_at", "last_seen"}`, bound to
one link and ended after SECURE_PORTAL_IDLE_MINUTES without a request; it is never a Django
login. Every page is `noindex`, never cached, and sends a Referer (the URL holds the token) only
to this host.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from artera.clientaddr import client_ip
from artera.errors import ApplicationError, InvalidInput, NotFound
from artera.jsonbody import text_is_storable

from .models import SecureAccessAttempt, SecureLink
from .secure import (
    Client,
    secure_code_check,
    secure_code_required,
    secure_code_send,
    secure_dob_check,
    secure_link_get_by_token,
    secure_link_opened,
    secure_reply,
    secure_thread,
)

SESSION_KEY = "secure_portal"
STAGE_CODE = "code"  # the date of birth was right; the code is still to come
STAGE_VERIFIED = "verified"
TIMED_OUT_KEY = "secure_portal_timed_out"

PortalView = Callable[..., HttpResponse]


def portal_page(view: PortalView) -> PortalView:
    """Headers every portal page carries, and the link lookup: an unknown token is a 404, an
    expired link a 410 page (and the end of its portal session)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, token: str) -> HttpResponse:
        try:
            link = secure_link_get_by_token(token)
        except NotFound:
            response = render(request, "portal/unavailable.html", {"reason": "unknown"}, status=404)
        else:
            now = timezone.now()
            if link.is_expired(now):
                _session_end(request)
                response = render(
                    request,
                    "portal/unavailable.html",
                    {"reason": "expired", "practice": link.channel.practice},
                    status=410,
                )
            else:
                response = view(request, link, token, now)
        response["X-Robots-Tag"] = "noindex, nofollow"
        # Not "no-referrer": browsers then send `Origin: null` with the forms, which CSRF
        # protection rightly refuses. Same-origin keeps the token's URL on our own host.
        response["Referrer-Policy"] = "same-origin"
        return response

    return never_cache(wrapper)


# --- The portal's own session --------------------------------------------------------------------


def _session_get(request: HttpRequest, link: SecureLink, now: datetime.datetime) -> dict[str, Any]:
    """The portal session for this link, or {} (none, another link's, or idle too long)."""
    state = request.session.get(SESSION_KEY)
    if not isinstance(state, dict) or state.get("link_id") != str(link.pk):
        return {}
    try:
        last_seen = datetime.datetime.fromisoformat(state["last_seen"])
    except (KeyError, TypeError, ValueError):
        last_seen = None
    idle = datetime.timedelta(minutes=settings.SECURE_PORTAL_IDLE_MINUTES)
    if last_seen is None or now - last_seen > idle:
        _session_end(request)
        request.session[TIMED_OUT_KEY] = str(link.pk)  # said once, on the date-of-birth page
        return {"timed_out": True}
    state["last_seen"] = now.isoformat()
    request.session[SESSION_KEY] = state
    return state


def _session_set(
    request: HttpRequest, link: SecureLink, stage: str, now: datetime.datetime
) -> None:
    if stage == STAGE_VERIFIED or SESSION_KEY not in request.session:
        # A new session key at each step up: a key planted before cannot ride along.
        request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "link_id": str(link.pk),
        "stage": stage,
        "verified_at": now.isoformat() if stage == STAGE_VERIFIED else None,
        "last_seen": now.isoformat(),
    }


def _session_end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def _client(request: HttpRequest) -> Client:
    return Client(
        ip_address=client_ip(request),
        user_agent=str(request.META.get("HTTP_USER_AGENT", "")),
    )


def _base_context(link: SecureLink) -> dict[str, Any]:
    return {"link": link, "practice": link.channel.practice}


# --- Pages ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@portal_page
def portal_start(
    request: HttpRequest, link: SecureLink, token: str, now: datetime.datetime
) -> HttpResponse:
    """Step 1: the date of birth."""
    state = _session_get(request, link, now)
    if state.get("stage") == STAGE_VERIFIED:
        return redirect("secure-thread", token=token)
    if state.get("stage") == STAGE_CODE:
        return redirect("secure-code", token=token)
    timed_out = request.session.pop(TIMED_OUT_KEY, None) == str(link.pk)
    context = _base_context(link) | {"timed_out": timed_out or state.get("timed_out", False)}
    if link.patient.date_of_birth is None:
        return render(request, "portal/unavailable.html", context | {"reason": "no_dob"})
    if request.method == "POST":
        dob, error = _parse_dob(request.POST)
        context["values"] = {k: request.POST.get(k, "") for k in ("month", "day", "year")}
        if dob is None:
            context["error"] = error
        else:
            # Checked (and audited) even while locked: the service refuses it then.
            answer = secure_dob_check(link=link, date_of_birth=dob, client=_client(request))
            if answer.ok:
                return _after_dob(request, link, token)
            if answer.outcome == SecureAccessAttempt.Outcome.WRONG:
                context["error"] = "That date of birth does not match our records."
                context["attempts_left"] = answer.attempts_left
    if link.is_locked(timezone.now()):
        context["locked_until"] = link.locked_until
        return render(request, "portal/locked.html", context, status=429)
    return render(request, "portal/dob.html", context)


def _after_dob(request: HttpRequest, link: SecureLink, token: str) -> HttpResponse:
    now = timezone.now()
    if not secure_code_required(link, at=now):
        _session_set(request, link, STAGE_VERIFIED, now)
        secure_link_opened(link=link, at=now)
        return redirect("secure-thread", token=token)
    _session_set(request, link, STAGE_CODE, now)
    try:
        secure_code_send(link=link, at=now)
    except ApplicationError:
        # The number cannot be texted (opted out, line off): the code page says to call.
        request.session[SESSION_KEY]["code_failed"] = True
        request.session.modified = True
    return redirect("secure-code", token=token)


def _parse_dob(data: Any) -> tuple[datetime.date | None, str]:
    try:
        month, day, year = (int(str(data.get(k, "")).strip()) for k in ("month", "day", "year"))
    except ValueError:
        return None, "Enter your date of birth as numbers: month, day and year."
    if year < 100:
        return None, "Enter the year with four digits, for example 1980."
    try:
        return datetime.date(year, month, day), ""
    except (ValueError, OverflowError):  # OverflowError: a part too large for a C long
        return None, "That is not a date. Check the month, day and year."


@require_http_methods(["GET", "POST"])
@portal_page
def portal_code(
    request: HttpRequest, link: SecureLink, token: str, now: datetime.datetime
) -> HttpResponse:
    """Step 2, when the link asks for it: the code texted to the patient."""
    state = _session_get(request, link, now)
    if state.get("stage") == STAGE_VERIFIED:
        return redirect("secure-thread", token=token)
    if state.get("stage") != STAGE_CODE:
        return redirect("secure-start", token=token)
    context = _base_context(link) | {"code_failed": state.get("code_failed", False)}
    if request.method == "POST":
        answer = secure_code_check(
            link=link, code=request.POST.get("code", ""), client=_client(request)
        )
        if answer.ok:
            _session_set(request, link, STAGE_VERIFIED, timezone.now())
            secure_link_opened(link=link)
            return redirect("secure-thread", token=token)
        if answer.outcome == SecureAccessAttempt.Outcome.CODE_EXPIRED:
            context["error"] = "This code has expired. Ask for a new one below."
        elif answer.outcome == SecureAccessAttempt.Outcome.WRONG:
            context["error"] = "That code is not right."
            context["attempts_left"] = answer.attempts_left
    if link.is_locked(timezone.now()):
        # Start again after the lockout: date of birth, then a new code.
        _session_end(request)
        context["locked_until"] = link.locked_until
        return render(request, "portal/locked.html", context, status=429)
    context["phone_hint"] = str(link.channel.phone)[-4:]
    return render(request, "portal/code.html", context)


@require_POST
@portal_page
def portal_code_resend(
    request: HttpRequest, link: SecureLink, token: str, now: datetime.datetime
) -> HttpResponse:
    state = _session_get(request, link, now)
    if state.get("stage") != STAGE_CODE:
        return redirect("secure-start", token=token)
    try:
        secure_code_send(link=link, at=now)
    except ApplicationError:
        request.session[SESSION_KEY]["code_failed"] = True
        request.session.modified = True
    return redirect("secure-code", token=token)


@require_http_methods(["GET", "POST"])
@portal_page
def portal_thread(
    request: HttpRequest, link: SecureLink, token: str, now: datetime.datetime
) -> HttpResponse:
    """Step 3: the secure thread with the practice, and the reply form."""
    state = _session_get(request, link, now)
    if state.get("stage") != STAGE_VERIFIED:
        return redirect("secure-start", token=token)
    context = _base_context(link)
    if request.method == "POST":
        body = request.POST.get("body", "")
        try:
            if not text_is_storable(body):
                raise InvalidInput(
                    "Your message has a character we cannot send (a NUL); remove it and try again.",
                    code="invalid_characters",
                    field="body",
                )
            secure_reply(link=link, body=body, reply_key=request.POST.get("reply_key", ""))
        except ApplicationError as exc:
            context["error"] = exc.message
            context["body"] = body.replace("\x00", "")
        else:
            return redirect(f"{request.path}?sent=1")
    context |= {
        "thread": list(secure_thread(link)),
        "reply_key": uuid.uuid4(),
        "sent": request.GET.get("sent") == "1" and "error" not in context,
        "idle_minutes": settings.SECURE_PORTAL_IDLE_MINUTES,
    }
    return render(request, "portal/thread.html", context)


@require_POST
@portal_page
def portal_leave(
    request: HttpRequest, link: SecureLink, token: str, now: datetime.datetime
) -> HttpResponse:
    _session_end(request)
    return render(request, "portal/unavailable.html", _base_context(link) | {"reason": "left"})
