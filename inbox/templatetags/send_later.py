"""`{% send_later_choices practice as choices %}`: the composer's quick "Send later" choices."""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone

from messaging.replies import send_later_choices as choices_for
from practices.models import Practice

register = template.Library()


@register.simple_tag
def send_later_choices(practice: Practice) -> list[tuple[str, datetime.datetime]]:
    return choices_for(practice=practice, now=timezone.now())
