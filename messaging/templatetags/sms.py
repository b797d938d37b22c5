"""Template helpers for the send path's pages."""

from __future__ import annotations

from django import template

from artera.phones import format_us_phone

register = template.Library()


@register.filter
def phone(value: str | None) -> str:
    """`+18185551234` -> `(818) 555-1234`."""
    return format_us_phone(value)
