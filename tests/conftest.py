"""Shared fixtures: two practices in one enterprise, a third in another, and the people every
permission test needs (staff of A, manager of A, staff of B)."""

from __future__ import annotations

import pytest
from django.test import Client

from practices.models import Membership, Practice

from .factories import LineFactory, MembershipFactory, PracticeFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    # PBKDF2's deliberate slowness protects real passwords; tests only need a working hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def practice_a(db: None) -> Practice:
    practice = PracticeFactory(name="Practice A")
    LineFactory(practice=practice, name="A main")
    return practice


@pytest.fixture
def practice_b(db: None) -> Practice:
    """Another enterprise's practice: nothing of A may ever show up for B's people."""
    practice = PracticeFactory(name="Practice B")
    LineFactory(practice=practice, name="B main")
    return practice


@pytest.fixture
def staff_a(practice_a: Practice):  # type: ignore[no-untyped-def]
    return MembershipFactory(
        user__username="staff_a", practice=practice_a, role=Membership.Role.STAFF
    ).user


@pytest.fixture
def manager_a(practice_a: Practice):  # type: ignore[no-untyped-def]
    return MembershipFactory(
        user__username="manager_a", practice=practice_a, role=Membership.Role.MANAGER
    ).user


@pytest.fixture
def staff_b(practice_b: Practice):  # type: ignore[no-untyped-def]
    return MembershipFactory(
        user__username="staff_b", practice=practice_b, role=Membership.Role.STAFF
    ).user


@pytest.fixture
def superuser(db: None):  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client
