"""Invariants the models enforce themselves (the admin shows them as form errors)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from practices.models import SmartPhrase
from tests.factories import MembershipFactory


def test_smart_phrase_owner_must_work_in_the_enterprise(practice_a, practice_b) -> None:  # type: ignore[no-untyped-def]
    outsider = MembershipFactory(practice=practice_b).user
    phrase = SmartPhrase(enterprise=practice_a.enterprise, owner=outsider, name="sig", text="Dana")

    with pytest.raises(ValidationError) as raised:
        phrase.full_clean()

    assert "owner" in raised.value.message_dict


def test_smart_phrase_owner_of_the_enterprise_is_fine(practice_a) -> None:  # type: ignore[no-untyped-def]
    insider = MembershipFactory(practice=practice_a).user
    SmartPhrase(
        enterprise=practice_a.enterprise, owner=insider, name="sig", text="Dana"
    ).full_clean()


@pytest.mark.parametrize("name", ["practiceName", "1abc", "has space", "x" * 51])
def test_smart_phrase_names_are_tokens_and_not_builtin(practice_a, name: str) -> None:  # type: ignore[no-untyped-def]
    phrase = SmartPhrase(enterprise=practice_a.enterprise, name=name, text="t")

    with pytest.raises(ValidationError):
        phrase.full_clean()
