"""Forms of the inbox pages. They only parse; the services validate the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from artera.bodies import COMPOSER_MAX_LENGTH, body_problem, reply_text
from channels_app.services import NOTE_MAX_LENGTH
from practices.models import QUICK_RESPONSE_MAX_LENGTH, Language


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Message",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": COMPOSER_MAX_LENGTH}),
        error_messages={"required": "Write the text to send."},
    )
    secure = forms.BooleanField(label="Secure", required=False)
    seen = forms.CharField(required=False, widget=forms.HiddenInput)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_body(self) -> str:
        """The body as typed, refused by the same rules as the send path's (`!!` not counted)."""
        body: str = self.cleaned_data["body"]
        problem = body_problem(reply_text(body)[0])
        if problem is not None:
            raise forms.ValidationError(problem.message, code=problem.code)
        return body


class NewConversationForm(forms.Form):
    """Text any US number from one of the user's lines (the view passes the choices)."""

    line = forms.ChoiceField(label="From line")
    number = forms.CharField(
        label="To (US phone number)",
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        error_messages={"required": "Enter the number to text."},
    )
    body = forms.CharField(
        label="Message",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": COMPOSER_MAX_LENGTH}),
        error_messages={"required": "Write the text to send."},
    )

    def __init__(self, *args: Any, lines: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["line"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (str(line.pk), f"{line.practice.name} · {line.name} ({line.phone_number.as_national})")
            for line in lines
        ]

    def clean_body(self) -> str:
        body: str = self.cleaned_data["body"]
        problem = body_problem(reply_text(body)[0])
        if problem is not None:
            raise forms.ValidationError(problem.message, code=problem.code)
        return body


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Internal note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write the note first."},
    )


class _InstanceValuesForm(forms.Form):
    """A plain form pre-filled from an object's attributes when editing one."""

    def __init__(self, *args: Any, instance_values: object = None, **kwargs: Any) -> None:
        if instance_values is not None and not args:
            kwargs["initial"] = {name: getattr(instance_values, name) for name in self.base_fields}
        super().__init__(*args, **kwargs)


class SmartPhraseForm(_InstanceValuesForm):
    name = forms.CharField(max_length=50, help_text="Used as {name}: letters, digits and _.")
    text = forms.CharField(
        max_length=QUICK_RESPONSE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )


class QuickResponseForm(_InstanceValuesForm):
    topic = forms.CharField(max_length=100)
    text = forms.CharField(
        max_length=QUICK_RESPONSE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Start with !! to always send it as plain SMS.",
    )
    language = forms.ChoiceField(choices=Language.choices, initial=Language.ENGLISH)
