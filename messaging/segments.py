"""How many SMS segments a text costs, the way carriers count them.

A text that fits the GSM 03.38 alphabet goes as GSM-7: 160 septets in one SMS, 153 per part
of a longer one (the user-data header takes 7). The extension-table characters (`€ { } [ ] ~ ^
\\ |` and form feed) take two septets each, and carriers never split one across parts. Any other
character forces UCS-2 for the whole text: 70 UTF-16 code units alone, 67 per part, and an emoji
(a surrogate pair) is never split either.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "gsm7" or "ucs2", as in Message.Encoding
    segments: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)


def segments_count(text: str) -> SegmentCount:
    """Count the segments of `text` (an empty text still costs one)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        encoding, single, part = "gsm7", GSM7_SINGLE, GSM7_PART
        units = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    else:
        encoding, single, part = "ucs2", UCS2_SINGLE, UCS2_PART
        units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    total = sum(units)
    if total <= single:
        return SegmentCount(encoding=encoding, segments=1, units=total)
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return SegmentCount(encoding=encoding, segments=segments, units=total)
