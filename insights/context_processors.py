"""`insights_link` in every template: whether the navigation shows Insights (one query, made
only when a template asks)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import insights_visible_to_user


def insights_link(request: HttpRequest) -> dict[str, object]:
    return {"insights_link": SimpleLazyObject(lambda: insights_visible_to_user(user=request.user))}
