"""Segment counting, table-tested at the boundaries of each encoding."""

from __future__ import annotations

import pytest

from messaging.segments import segments_count

EMOJI = "\N{GRINNING FACE}"  # one character, two UTF-16 code units


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        # plain ASCII (GSM-7): 160 in one, then 153 per part
        ("Hello", "gsm7", 1),
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        ("a" * 459, "gsm7", 3),
        ("a" * 460, "gsm7", 4),
        # extension characters take two septets
        ("€" * 80, "gsm7", 1),
        ("€" * 81, "gsm7", 2),
        ("{}" * 40, "gsm7", 1),
        ("a" * 159 + "€", "gsm7", 2),
        ("a" * 158 + "[", "gsm7", 1),
        # ...and are never split across parts: 152 + a 2-septet char does not fit in 153
        ("a" * 152 + "|" + "a" * 10, "gsm7", 2),
        ("a" * 152 + "|" + "a" * 152, "gsm7", 3),
        ("a" * 151 + "|" + "a" * 153, "gsm7", 2),
        # accented letters of the GSM alphabet stay GSM-7; others force UCS-2
        ("Café à Zürich, señor", "gsm7", 1),
        ("ÉÄÖÑÜäöñüàèéùìò" * 10 + "a" * 10, "gsm7", 1),
        ("á", "ucs2", 1),
        ("ç" * 70, "ucs2", 1),
        ("ç" * 71, "ucs2", 2),
        ("ç" * 134, "ucs2", 2),
        ("ç" * 135, "ucs2", 3),
        ("a" * 69 + "í", "ucs2", 1),
        ("a" * 70 + "í", "ucs2", 2),
        # emoji: a surrogate pair, two units, never split
        (EMOJI, "ucs2", 1),
        (EMOJI * 35, "ucs2", 1),
        (EMOJI * 36, "ucs2", 2),
        ("a" * 66 + EMOJI + "a", "ucs2", 1),  # 69 units
        ("a" * 66 + EMOJI + "aa", "ucs2", 1),  # 70 units
        ("a" * 66 + EMOJI + "aaa", "ucs2", 2),
        ("a" * 65 + EMOJI + "a" * 67, "ucs2", 2),
        ("a" * 66 + EMOJI + "a" * 66, "ucs2", 3),
        # one UCS-2 character turns a 100-character ASCII text into two parts
        ("a" * 99 + "✓", "ucs2", 2),
    ],
)
def test_segments(text: str, encoding: str, segments: int) -> None:
    count = segments_count(text)
    assert (count.encoding, count.segments) == (encoding, segments)


def test_units_count_extension_characters_twice() -> None:
    assert segments_count("a€").units == 3
    assert segments_count("a" + EMOJI).units == 3
