"""The dashboard's range: two local dates (the practice's timezone), at most a year apart."""

from __future__ import annotations

import datetime

from django import forms

from .figures import MAX_RANGE_DAYS, Period


class RangeForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, datetime.date) and isinstance(end, datetime.date):
            if end < start:
                self.add_error("end", "The end date must not be before the start date.")
            elif (end - start).days + 1 > MAX_RANGE_DAYS:
                self.add_error("end", f"Pick at most {MAX_RANGE_DAYS} days.")
            elif start.year < 2000 or end.year > 2100:
                self.add_error("start", "Pick dates between 2000 and 2100.")
        return data

    def period(self) -> Period:
        return Period(self.cleaned_data["start"], self.cleaned_data["end"])
