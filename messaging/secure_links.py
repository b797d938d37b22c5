"""Secure links, as the send path needs them (core): a secure message's SMS is a notice.

A secure message (`Message.is_secure`, verified patients only) is stored by the one send path
like any other text, with a `SecureLink` (`secure_link_prepare`, then `secure_link_save` in the
send path's transaction); what the carrier gets is `secure_notice_text`: the practice's name and
the link, never the content. The portal the link opens (its answers and replies) is
`messaging.secure`, a feature above the send path.

**Tokens.** A link's token is 256 bits: HMAC-SHA256 of the link's random `nonce` under
SECRET_KEY. The database keeps only the token's SHA-256 (to find the link) and the nonce, so the
send path can rebuild the identical notice every time it hands the message to the carrier (a
retry must be the same text), while a copy of the database alone cannot produce a working link.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from artera.secrets import token_generate, token_hash

from .models import Message, SecureLink

SECURE_NOTICE = "{practice} sent you a secure message. Open it here: {url}"


def secure_link_prepare(*, at: datetime.datetime | None = None) -> SecureLink:
    """A new link, not saved yet: the send path needs its notice text before the message is
    stored, and stores both in one transaction (`secure_link_save`)."""
    at = at or timezone.now()
    link = SecureLink(
        nonce=token_generate(),
        expires_at=at + datetime.timedelta(days=settings.SECURE_LINK_TTL_DAYS),
    )
    link.token_hash = token_hash(secure_link_token(link))
    return link


def secure_link_save(*, link: SecureLink, message: Message) -> SecureLink:
    """Store `link` for `message` (inside the send path's transaction). Older links of the same
    channel become superseded: they keep working, with the code step."""
    assert message.patient_id is not None, "secure messages go to verified patients only"
    link.message = message
    link.channel_id = message.channel_id
    link.patient_id = message.patient_id
    SecureLink.objects.filter(channel_id=message.channel_id, superseded_at__isnull=True).update(
        superseded_at=timezone.now()
    )
    link.save(force_insert=True)
    return link


def secure_link_token(link: SecureLink) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"artera.secure-link:{link.nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def secure_link_url(link: SecureLink) -> str:
    return f"{settings.PUBLIC_BASE_URL}/secure/{secure_link_token(link)}/"


def secure_notice_text(message: Message, *, link: SecureLink | None = None) -> str:
    """What the carrier gets for a secure message: the practice's name and the link. A secure
    message stored without a link (before links existed) gets one now."""
    if link is None:
        link = SecureLink.objects.filter(message_id=message.pk).first()
    if link is None:
        with transaction.atomic():
            link = secure_link_save(link=secure_link_prepare(), message=message)
    return SECURE_NOTICE.format(practice=message.practice.name, url=secure_link_url(link))
