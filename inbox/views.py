"""Staff pages. Views parse the request, call a selector or service, and render.

Every channel view starts with `channel_get_for_user` (or `channel_stamp_for_user`), which
answers 404 for another practice's conversation. Actions answer an htmx request with the piece
of page that changed (and an `HX-Trigger: thread-changed` so the thread refreshes at once) and a
plain form post with a redirect back to the thread.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required as django_login_required
from django.contrib.auth.views import LogoutView, redirect_to_login
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from artera.clientaddr import client_ip
from artera.errors import ApplicationError, NotFound
from artera.sessions import session_mark_passive, session_seconds_left
from channels_app import services
from channels_app.models import Notification, PatientChannel
from messaging import replies
from practices.models import Language, Membership, QuickResponse, SmartPhrase
from practices.selectors import (
    practice_get_managed_by_user,
    practice_list_for_user,
    practice_members,
)

from .forms import NewConversationForm, NoteForm, QuickResponseForm, ReplyForm, SmartPhraseForm
from .selectors import (
    InboxFilters,
    channel_get_for_user,
    channel_page_for_user,
    channel_patient_panel,
    channel_stamp_for_user,
    channel_thread,
    channel_thread_at,
    channel_thread_older,
    channel_viewers,
    inbox_stamp,
    line_get_for_user,
    lines_for_user,
    messages_search_for_user,
    patient_get_for_user,
    patients_search_for_user,
    practice_for_conversation_start,
    practice_to_move_to,
    practices_to_move_to,
    quick_responses_by_topic,
    smart_phrase_values,
    smart_phrases_for_user,
    smart_phrases_owned,
)

INBOX_PAGE_SIZE = 50
THREAD_CHANGED = "thread-changed"

View = Callable[..., HttpResponse]


def login_required(view: View) -> View:
    """`login_required` that also works for htmx: a poll or action whose session ran out sends
    the whole page to the sign-in form (`HX-Redirect`) instead of having htmx follow the redirect
    and swap the sign-in page into a fragment.

    Every page and fragment behind it shows patients' information, so none may be kept by the
    browser or a proxy: `never_cache` (`Cache-Control: no-store`, as on the portal and in the
    admin)."""
    plain = django_login_required(view)

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated or not request.htmx:  # type: ignore[attr-defined]
            return plain(request, *args, **kwargs)
        current = request.headers.get("HX-Current-URL") or request.get_full_path()
        target = redirect_to_login(current, settings.LOGIN_URL)["Location"]
        return HttpResponse(status=204, headers={"HX-Redirect": target})

    return never_cache(wrapped)


def home(request: HttpRequest) -> HttpResponse:
    return redirect("inbox")


def _channel_or_404(request: HttpRequest, channel_id: object) -> PatientChannel:
    try:
        return channel_get_for_user(user=request.user, channel_id=channel_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def passive(view: View) -> View:
    """For requests the page makes on its own (polls, presence heartbeats): they do not count
    as activity, so they must not push back the session's idle timeout
    (`SESSION_SAVE_EVERY_REQUEST` would otherwise keep an unattended tab signed in forever).
    The session is still checked, and one that ran out ends the poll (see `login_required`)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        _keep_session_expiry(request)
        return response

    return wrapped


def _keep_session_expiry(request: HttpRequest) -> None:
    session = getattr(request, "session", None)
    if session is not None and not session.modified:
        session.save = _no_save
        session_mark_passive(request)


def _no_save(*args: Any, **kwargs: Any) -> None:
    return None


# --- The session's idle timeout -----------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def session_status(request: HttpRequest) -> HttpResponse:
    """How long the signed-in session has left, for the page's sign-out warning.

    GET is passive (asking does not extend the session); it reads the server's expiry, so a tab
    learns that its user was active in another tab. POST is "Stay signed in": a real, CSRF-checked
    request, which extends the session like any click. Neither redirects: a session that ran out
    answers `signed_in: false` (401 to the POST), and the page goes to the sign-in form itself."""
    signed_in = bool(request.user.is_authenticated)
    if request.method == "POST":
        seconds_left = settings.SESSION_COOKIE_AGE if signed_in else 0
    else:
        seconds_left = session_seconds_left(request)
        _keep_session_expiry(request)
    return JsonResponse(
        {
            "signed_in": signed_in,
            "seconds_left": seconds_left,
            "warn_seconds": min(settings.SESSION_WARN_SECONDS, settings.SESSION_COOKIE_AGE),
            "idle_seconds": settings.SESSION_COOKIE_AGE,
        },
        status=200 if signed_in or request.method == "GET" else 401,
    )


class SignOutView(LogoutView):
    """Sign-out also tells the browser to drop whatever this site kept (HTTP cache, local and
    session storage, IndexedDB, Cache Storage): no patient information survives the session. The
    sign-in page clears storage too, for a session that ended by itself (static/js/session.js)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        response["Clear-Site-Data"] = '"cache", "storage"'
        return response


# --- The inbox list -----------------------------------------------------------------------------


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    filters = InboxFilters.from_query(request.GET.dict())
    return render(request, "inbox/inbox.html", _workspace_context(request, filters))


def _workspace_context(request: HttpRequest, filters: InboxFilters) -> dict[str, Any]:
    """What the list side of the workspace shows (the inbox page, and a thread opened by URL)."""
    practices = practice_list_for_user(user=request.user).annotate(
        is_manager=Exists(
            Membership.objects.filter(
                practice=OuterRef("pk"),
                user_id=cast(int, request.user.pk),
                role=Membership.Role.MANAGER,
            )
        )
    )
    return {
        **_list_context(request, filters),
        "status_choices": [("open", "Open"), ("closed", "Closed"), ("all", "All")],
        "assigned_choices": [("", "Anyone"), ("me", "Mine"), ("unassigned", "Unassigned")],
        "flag_choices": [("", "Everything"), ("action", "Needs action"), ("starred", "Starred")],
        "sort_choices": [("recent", "Recent activity"), ("waiting", "Longest waiting")],
        "practices": practices,
        "patients": patients_search_for_user(user=request.user, q=filters.q),
        "message_hits": messages_search_for_user(
            user=request.user, q=filters.q, practice_id=filters.practice_id
        ),
        "mentions": Notification.objects.filter(
            user_id=cast(int, request.user.pk), read_at__isnull=True
        ).count(),
        "can_start": bool(practices),
    }


@passive
@login_required
@require_GET
def inbox_live(request: HttpRequest) -> HttpResponse:
    """The inbox's poll: 204 (nothing to swap) while the fingerprint is unchanged."""
    stamp = inbox_stamp(user=request.user)
    if request.GET.get("since") == stamp:
        return HttpResponse(status=204)
    filters = InboxFilters.from_query(request.GET.dict())
    return render(request, "inbox/_channel_list.html", _list_context(request, filters, stamp=stamp))


def _list_context(
    request: HttpRequest, filters: InboxFilters, *, stamp: str | None = None
) -> dict[str, Any]:
    # Only the first page follows new activity: a later page keeps its place. The fingerprint
    # is taken before the page is read, so activity in between shows up at the next poll.
    if filters.after is not None:
        stamp = None
    elif stamp is None:
        stamp = inbox_stamp(user=request.user)
    page = channel_page_for_user(user=request.user, filters=filters, size=INBOX_PAGE_SIZE)
    return {"page": page, "filters": filters, "stamp": stamp}


# --- The thread ---------------------------------------------------------------------------------


@login_required
@require_GET
def channel_detail(request: HttpRequest, channel_id: str) -> HttpResponse:
    """The thread in the workspace. A row of the list asks for the thread pane alone
    (`HX-Target: thread-pane`); anything else (a link, a reload, Back restoring the page) gets
    the whole workspace with the list beside the thread."""
    channel = _channel_or_404(request, channel_id)
    services.channel_viewed(channel=channel, user=request.user, ip_address=client_ip(request))
    services.notifications_mark_read(user=request.user, channel=channel)
    # `?at=<message id>` (a search hit) opens the thread at that message.
    hit = request.GET.get("at", "")
    thread = (channel_thread_at(channel=channel, message_id=hit) if hit else None) or (
        channel_thread(channel=channel)
    )
    filters = InboxFilters.from_query(request.GET.dict())
    phrases = smart_phrases_for_user(
        user=request.user, enterprise_id=channel.practice.enterprise_id
    )
    values = smart_phrase_values(channel=channel, user=request.user, phrases=phrases)
    context = {
        **_thread_context(request, channel, thread=thread),
        "anchor": thread.older or thread.start or "",
        "focus_message": hit if hit and _shows(thread, hit) else "",
        "form": ReplyForm(
            initial={
                "secure": channel.is_verified,
                "seen": thread.latest_message.pk if thread.latest_message else "",
            }
        ),
        "note_form": NoteForm(),
        "quick_responses": quick_responses_by_topic(channel=channel),
        "phrases": [(phrase, values.get(phrase.name, "")) for phrase in phrases],
        "phrase_values": json.dumps(values),
        "viewers": channel_viewers(channel=channel, user=request.user),
        "filters": filters,
        **_panel_context(request, channel),
    }
    if request.headers.get("HX-Target") == "thread-pane":
        return render(request, "inbox/_thread_pane.html", {**context, "partial": True})
    return render(request, "inbox/thread.html", {**_workspace_context(request, filters), **context})


def composer_sent(request: HttpRequest, channel: Any) -> HttpResponse:
    """The composer after a text was sent (or scheduled): empty again, and the thread told to
    refresh."""
    response = render(
        request,
        "inbox/_composer.html",
        {
            "channel": channel,
            "form": ReplyForm(initial={"secure": channel.is_verified, "seen": ""}),
            "sent": True,
            **_panel_context(request, channel),
        },
    )
    response["HX-Trigger"] = THREAD_CHANGED
    return response


def _shows(thread: Any, message_id: str) -> bool:
    return any(str(e.item.pk) == message_id for e in thread.entries if e.kind == "message")


def _panel_context(request: HttpRequest, channel: PatientChannel) -> dict[str, Any]:
    panel = channel_patient_panel(channel=channel, user=request.user)
    return {"panel": panel, "send_block": panel.send_block}


@passive
@login_required
@require_GET
def channel_live(request: HttpRequest, channel_id: str) -> HttpResponse:
    """The thread's poll: 204 while nothing changed (one query), else the new timeline."""
    try:
        stamp = channel_stamp_for_user(user=request.user, channel_id=channel_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if request.GET.get("since") == stamp:
        return HttpResponse(status=204)
    channel = _channel_or_404(request, channel_id)
    anchor = request.GET.get("from", "")
    return render(
        request,
        "inbox/_live.html",
        {
            **_thread_context(
                request, channel, thread=channel_thread(channel=channel, since=anchor), stamp=stamp
            ),
            "anchor": anchor,
        },
    )


@login_required
@require_GET
def channel_older(request: HttpRequest, channel_id: str) -> HttpResponse:
    """One page of earlier messages (keyset, `?before=` the cursor the thread handed out),
    back to the first message of the conversation."""
    channel = _channel_or_404(request, channel_id)
    thread = channel_thread_older(channel=channel, before=request.GET.get("before", ""))
    members = list(practice_members(practice=channel.practice))
    return render(
        request,
        "inbox/_older.html",
        {"channel": channel, "thread": thread, **_mention_context(members)},
    )


def _thread_context(
    request: HttpRequest, channel: PatientChannel, *, thread: Any, stamp: str | None = None
) -> dict[str, Any]:
    header = _header_context(request, channel)
    return {
        "channel": channel,
        "thread": thread,
        "stamp": stamp or channel_stamp_for_user(user=request.user, channel_id=channel.pk),
        **header,
        **_mention_context(header["colleagues"]),
    }


def _header_context(request: HttpRequest, channel: PatientChannel) -> dict[str, Any]:
    return {
        "channel": channel,
        "colleagues": list(practice_members(practice=channel.practice)),
        "move_targets": list(practices_to_move_to(channel=channel)),
        "is_starred": channel.starred_by.filter(pk=cast(int, request.user.pk)).exists(),
    }


def _mention_context(members: list[Any]) -> dict[str, Any]:
    """Who a note can @mention: the practice's members, by display name (the note form's
    autocomplete) and by username (highlighting the mentions of real members in notes)."""
    return {
        "mention_names": {
            member.get_username().lower(): member.get_full_name() or member.get_username()
            for member in members
        },
        "mention_members": json.dumps(
            [
                {"username": m.get_username(), "name": m.get_full_name() or m.get_username()}
                for m in members
            ]
        ),
    }


@passive
@login_required
@require_POST
def channel_presence(request: HttpRequest, channel_id: str) -> HttpResponse:
    """Refreshed every few seconds by an open thread: who else is looking at it."""
    channel = _channel_or_404(request, channel_id)
    if request.POST.get("leave"):
        services.presence_leave(channel=channel, user=request.user)
        return HttpResponse(status=204)
    services.presence_touch(channel=channel, user=request.user)
    return render(
        request,
        "inbox/_presence.html",
        {"channel": channel, "viewers": channel_viewers(channel=channel, user=request.user)},
    )


@login_required
@require_POST
def channel_send(request: HttpRequest, channel_id: str) -> HttpResponse:
    channel = _channel_or_404(request, channel_id)
    form = ReplyForm(request.POST)
    collision = None
    if form.is_valid():
        try:
            replies.channel_reply(
                channel=channel,
                user=request.user,
                body=form.cleaned_data["body"],
                secure=form.cleaned_data["secure"],
                seen_message_id=form.cleaned_data["seen"],
                confirmed=form.cleaned_data["confirmed"],
                ip_address=client_ip(request),
            )
        except replies.ReplyCollision as exc:
            collision = exc.other
            form.add_error(None, exc.message)
        except ApplicationError as exc:
            form.add_error("body" if exc.field == "body" else None, exc.message)
        else:
            if not request.htmx:  # type: ignore[attr-defined]
                return redirect("channel", channel_id=channel.pk)
            return composer_sent(request, channel)
    if not request.htmx:  # type: ignore[attr-defined]
        for error in form.non_field_errors() + form.errors.get("body", []):
            flash.error(request, str(error))
        return redirect("channel", channel_id=channel.pk)
    data = request.POST.copy()
    if collision is not None:
        # The second press sends: the person has now seen the other reply.
        data["confirmed"] = "1"
        data["seen"] = str(collision.pk)
        form = _bound_with_errors(ReplyForm(data), form)
    response = render(
        request,
        "inbox/_composer.html",
        {
            "channel": channel,
            "form": form,
            "collision": collision,
            **_panel_context(request, channel),
        },
    )
    if collision is not None:
        response["HX-Trigger"] = THREAD_CHANGED
    return response


def _bound_with_errors(new: ReplyForm, old: ReplyForm) -> ReplyForm:
    new.is_valid()
    for error in old.non_field_errors():
        new.add_error(None, error)
    return new


@login_required
@require_POST
def channel_note(request: HttpRequest, channel_id: str) -> HttpResponse:
    channel = _channel_or_404(request, channel_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(
                channel=channel,
                author=request.user,
                body=form.cleaned_data["body"],
                ip_address=client_ip(request),
            )
        except ApplicationError as exc:
            form.add_error("body", exc.message)
        else:
            form = NoteForm()
            if not request.htmx:  # type: ignore[attr-defined]
                return redirect("channel", channel_id=channel.pk)
            response = render(
                request,
                "inbox/_note_form.html",
                {"channel": channel, "note_form": form, **_note_members(channel)},
            )
            response["HX-Trigger"] = THREAD_CHANGED
            return response
    if not request.htmx:  # type: ignore[attr-defined]
        for error in form.errors.get("body", []):
            flash.error(request, str(error))
        return redirect("channel", channel_id=channel.pk)
    return render(
        request,
        "inbox/_note_form.html",
        {"channel": channel, "note_form": form, **_note_members(channel)},
    )


def _note_members(channel: PatientChannel) -> dict[str, Any]:
    return _mention_context(list(practice_members(practice=channel.practice)))


def _channel_action(
    action: Callable[[HttpRequest, PatientChannel], None],
) -> Callable[[HttpRequest, str], HttpResponse]:
    @login_required
    @require_POST
    def view(request: HttpRequest, channel_id: str) -> HttpResponse:
        channel = _channel_or_404(request, channel_id)
        try:
            action(request, channel)
        except ApplicationError as exc:
            flash.error(request, exc.message)
        if not request.htmx:  # type: ignore[attr-defined]
            return redirect("channel", channel_id=channel.pk)
        response = render(request, "inbox/_thread_header.html", _header_context(request, channel))
        response["HX-Trigger"] = THREAD_CHANGED
        return response

    view.__name__ = action.__name__
    return view


def _status(request: HttpRequest, channel: PatientChannel) -> None:
    if request.POST.get("action") == "close":
        services.channel_close(channel=channel, user=request.user)
    elif request.POST.get("action") == "reopen":
        services.channel_reopen(channel=channel, user=request.user)


def _assign(request: HttpRequest, channel: PatientChannel) -> None:
    value = request.POST.get("assignee", "")
    assignee = request.user.pk if value == "me" else (value or None)
    services.channel_assign(channel=channel, user=request.user, assignee_id=assignee)


def _star(request: HttpRequest, channel: PatientChannel) -> None:
    services.channel_star_toggle(channel=channel, user=request.user)


channel_status = _channel_action(_status)
channel_assign = _channel_action(_assign)
channel_star = _channel_action(_star)


@login_required
@require_POST
def conversation_start(request: HttpRequest) -> HttpResponse:
    """Open (or create) the conversation of one of the user's practices with a patient found by
    the enterprise-wide search."""
    try:
        patient = patient_get_for_user(user=request.user, patient_id=request.POST.get("patient"))
        channel = services.channel_start(
            patient=patient,
            practice=practice_for_conversation_start(
                user=request.user,
                enterprise_id=patient.enterprise_id,
                practice_id=request.POST.get("practice"),
            ),
        )
    except ApplicationError as exc:
        flash.error(request, exc.message)
        return redirect("inbox")
    return redirect("channel", channel_id=channel.pk)


@login_required
@require_http_methods(["GET", "POST"])
def conversation_new(request: HttpRequest) -> HttpResponse:
    """Text any US number from one of the user's lines (an unverified conversation when the
    number has none), through the one send path; then open that conversation."""
    lines = list(lines_for_user(user=request.user))
    if not lines:
        raise Http404("Not a member of any practice with a line.")
    form = NewConversationForm(request.POST or None, lines=lines)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                message = replies.conversation_start_with_number(
                    line=line_get_for_user(user=request.user, line_id=form.cleaned_data["line"]),
                    user=request.user,
                    number=form.cleaned_data["number"],
                    body=form.cleaned_data["body"],
                    ip_address=client_ip(request),
                )
            except ApplicationError as exc:
                field = {"to": "number", "line_id": "line"}.get(exc.field or "", exc.field)
                form.add_error(field if field in form.fields else None, exc.message)
            else:
                return redirect("channel", channel_id=message.channel_id)
        status = 400
    context = {"new_form": form}
    if request.headers.get("HX-Target") == "thread-pane":
        return render(
            request, "inbox/_new_conversation.html", {**context, "partial": True}, status=status
        )
    filters = InboxFilters.from_query(request.GET.dict())
    return render(
        request,
        "inbox/new.html",
        {**_workspace_context(request, filters), **context},
        status=status,
    )


@login_required
@require_POST
def channel_move(request: HttpRequest, channel_id: str) -> HttpResponse:
    """Hand the conversation over to another practice of the enterprise. Afterwards the user
    may no longer see it (not a member there): they go back to the inbox, told where it went."""
    channel = _channel_or_404(request, channel_id)
    try:
        target = practice_to_move_to(channel=channel, practice_id=request.POST.get("practice"))
        services.channel_move(channel=channel, user=request.user, practice=target)
    except ApplicationError as exc:
        flash.error(request, exc.message)
        url = reverse("channel", args=[channel.pk])
    else:
        try:
            _channel_or_404(request, channel.pk)
            url = reverse("channel", args=[channel.pk])
        except Http404:
            flash.success(request, f"The conversation moved to {target.name}.")
            url = reverse("inbox")
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


# --- Mentions -----------------------------------------------------------------------------------


@login_required
@require_GET
def mentions(request: HttpRequest) -> HttpResponse:
    rows = (
        Notification.objects.filter(
            user_id=cast(int, request.user.pk),
            channel__practice__in=practice_list_for_user(user=request.user),
        )
        .select_related("channel__patient", "channel__known_patient", "note__author")
        .order_by("-created_at")[:100]
    )
    return render(request, "inbox/mentions.html", {"notifications": rows})


# --- Smart phrases (a staff member's own) -------------------------------------------------------


@login_required
def smart_phrases(request: HttpRequest, phrase_id: int | None = None) -> HttpResponse:
    practices = list(practice_list_for_user(user=request.user).select_related("enterprise"))
    if not practices:
        raise Http404("Not a member of any practice.")
    enterprise_id = practices[0].enterprise_id
    phrase = None
    if phrase_id is not None:
        phrase = smart_phrases_owned(user=request.user).filter(pk=phrase_id).first()
        if phrase is None:
            raise Http404("No such smart phrase.")
    form = SmartPhraseForm(request.POST or None, instance_values=phrase)
    if request.method == "POST":
        if request.POST.get("delete") and phrase is not None:
            phrase.delete()
            flash.success(request, f"{{{phrase.name}}} deleted.")
            return redirect("smart-phrases")
        if form.is_valid():
            try:
                saved = services.smart_phrase_save(
                    owner=request.user,
                    enterprise_id=phrase.enterprise_id if phrase else enterprise_id,
                    phrase=phrase,
                    **form.cleaned_data,
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                flash.success(request, f"{{{saved.name}}} saved.")
                return redirect("smart-phrases")
    return render(
        request,
        "inbox/smart_phrases.html",
        {
            "form": form,
            "editing": phrase,
            "mine": smart_phrases_owned(user=request.user).order_by("name"),
            "general": SmartPhrase.objects.filter(
                enterprise_id=enterprise_id, owner__isnull=True
            ).order_by("name"),
        },
    )


# --- Quick responses (managers) -----------------------------------------------------------------


@login_required
def quick_responses(
    request: HttpRequest, practice_id: str, response_id: int | None = None
) -> HttpResponse:
    try:
        practice = practice_get_managed_by_user(user=request.user, practice_id=practice_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    editing = None
    if response_id is not None:
        editing = QuickResponse.objects.filter(practice=practice, pk=response_id).first()
        if editing is None:
            raise Http404("No such quick response.")
    form = QuickResponseForm(request.POST or None, instance_values=editing)
    if request.method == "POST":
        if request.POST.get("delete") and editing is not None:
            editing.delete()
            flash.success(request, "Quick response deleted.")
            return redirect("quick-responses", practice_id=practice.pk)
        if form.is_valid():
            try:
                services.quick_response_save(
                    practice=practice, response=editing, **form.cleaned_data
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                flash.success(request, "Quick response saved.")
                return redirect("quick-responses", practice_id=practice.pk)
    return render(
        request,
        "inbox/quick_responses.html",
        {
            "practice": practice,
            "form": form,
            "editing": editing,
            "responses": QuickResponse.objects.filter(practice=practice).order_by(
                "topic", "position", "id"
            ),
            "languages": Language.choices,
            "back": reverse("inbox"),
        },
    )
