"""Send later in the inbox: the composer's "Send later" choices and the thread's cancel of a
scheduled text. Kept apart from `inbox.views` (the same thin views: parse, call
`messaging.replies`, render), with their own partials (`_send_later.html`,
`_scheduled_cancel.html`)."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from artera.clientaddr import client_ip
from artera.errors import ApplicationError
from messaging import replies

from .forms import ReplyForm
from .views import THREAD_CHANGED, _channel_or_404, composer_sent, login_required


class SendLaterForm(forms.Form):
    """When: a quick choice (an ISO moment from `send_later_choices`), or a custom local date
    and time in the practice's time zone."""

    send_at = forms.DateTimeField(required=False)
    # Parsed here, not by a DateTimeField: that one would read a naive time in UTC.
    send_at_custom = forms.CharField(required=False, max_length=16)

    def clean_send_at_custom(self) -> datetime.datetime | None:
        text = self.cleaned_data.get("send_at_custom") or ""
        if not text:
            return None
        try:
            return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M")  # noqa: DTZ007 (wall time in the practice's zone, see `moment`)
        except ValueError:
            raise forms.ValidationError("Pick a date and time.") from None

    def moment(self, *, tz: datetime.tzinfo) -> datetime.datetime | None:
        chosen = self.cleaned_data.get("send_at")
        if chosen is not None:
            return chosen if chosen.tzinfo else chosen.replace(tzinfo=tz)
        custom: datetime.datetime | None = self.cleaned_data.get("send_at_custom")
        return custom.replace(tzinfo=tz) if custom is not None else None


@login_required
@require_POST
def channel_send_later(request: HttpRequest, channel_id: str) -> HttpResponse:
    channel = _channel_or_404(request, channel_id)
    form = ReplyForm(request.POST)
    when = SendLaterForm(request.POST)
    error = ""
    send_at = when.moment(tz=channel.practice.tz) if when.is_valid() else None
    if send_at is None:
        error = "Pick when to send it."
    elif form.is_valid():
        try:
            replies.channel_reply(
                channel=channel,
                user=request.user,
                body=form.cleaned_data["body"],
                secure=form.cleaned_data["secure"],
                seen_message_id=form.cleaned_data["seen"],
                confirmed=True,  # a later text collides with nobody now
                ip_address=client_ip(request),
                send_at=send_at,
            )
        except ApplicationError as exc:
            error = exc.message
    else:
        error = "Write the text to send."
    if not request.htmx:  # type: ignore[attr-defined]
        if error:
            flash.error(request, error)
        return redirect("channel", channel_id=channel.pk)
    if error:
        form.is_valid()
        form.add_error(None, error)
        return render(request, "inbox/_composer.html", {"channel": channel, "form": form})
    return composer_sent(request, channel)


@login_required
@require_POST
def channel_scheduled_cancel(
    request: HttpRequest, channel_id: str, message_id: str
) -> HttpResponse:
    channel = _channel_or_404(request, channel_id)
    try:
        replies.channel_scheduled_cancel(channel=channel, message_id=message_id)
    except ApplicationError as exc:
        if exc.http_status == 404:
            raise Http404(exc.message) from exc
        flash.error(request, exc.message)
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse(status=204)
        response["HX-Trigger"] = THREAD_CHANGED
        return response
    return redirect("channel", channel_id=channel.pk)
