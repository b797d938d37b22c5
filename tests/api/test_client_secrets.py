"""Client secrets: stored with a fast keyed hash, old PBKDF2 ones re-hashed on their first right
use, and wrong secrets limited per client without locking the real client out."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import identify_hasher, make_password
from oauth2_provider.models import AccessToken, Application

from artera.secrets import CLIENT_SECRET_ALGORITHM, client_secret_check, client_secret_make
from practices.models import Enterprise
from tests.support.api import basic_auth, token_request
from webhooks.services import ApiClientCredentials, api_client_create

pytestmark = pytest.mark.django_db

PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"


def _token(client_id: str, secret: str, **extra: Any) -> Any:
    return token_request(
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(client_id, secret),
        **extra,
    )


def _stored(credentials: ApiClientCredentials) -> str:
    return str(Application.objects.get(client_id=credentials.client_id).client_secret)


def test_the_stored_secret_is_the_keyed_hash(credentials: ApiClientCredentials) -> None:
    stored = _stored(credentials)

    assert stored.startswith(f"{CLIENT_SECRET_ALGORITHM}$")
    assert identify_hasher(stored).algorithm == CLIENT_SECRET_ALGORITHM
    assert not stored.startswith("pbkdf2")
    assert credentials.client_secret not in stored
    assert _token(credentials.client_id, credentials.client_secret).status_code == 200
    assert _token(credentials.client_id, credentials.client_secret + "x").status_code == 401


def test_the_hash_is_keyed(settings: Any) -> None:
    """The same secret and salt give another hash under another key: the database alone cannot
    check a guess."""
    settings.API_CLIENT_SECRET_HASH_KEY = "key-one"
    stored = client_secret_make("s3cret")
    assert client_secret_check(secret="s3cret", stored=stored).ok
    settings.API_CLIENT_SECRET_HASH_KEY = "key-two"
    assert not client_secret_check(secret="s3cret", stored=stored).ok


def test_a_rotated_secret_key_still_verifies_and_rehashes(
    credentials: ApiClientCredentials, settings: Any
) -> None:
    settings.API_CLIENT_SECRET_HASH_KEY = ""
    old_stored = _stored(credentials)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40

    assert _token(credentials.client_id, credentials.client_secret).status_code == 200
    new_stored = _stored(credentials)
    assert new_stored != old_stored
    settings.SECRET_KEY_FALLBACKS = []
    assert client_secret_check(secret=credentials.client_secret, stored=new_stored).ok


def test_an_old_pbkdf2_secret_keeps_working_and_is_rehashed(
    credentials: ApiClientCredentials, settings: Any
) -> None:
    """Secrets stored before this change (DOT's default, PBKDF2) need no migration: the first
    right token request stores the fast form instead."""
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, PBKDF2]
    legacy = make_password(credentials.client_secret, hasher="pbkdf2_sha256")
    Application.objects.filter(client_id=credentials.client_id).update(client_secret=legacy)

    assert _token(credentials.client_id, credentials.client_secret + "x").status_code == 401
    assert _stored(credentials) == legacy  # a wrong secret changes nothing
    assert _token(credentials.client_id, credentials.client_secret).status_code == 200
    assert _stored(credentials).startswith(f"{CLIENT_SECRET_ALGORITHM}$")
    assert _token(credentials.client_id, credentials.client_secret).status_code == 200


def test_saving_the_application_again_keeps_the_hash(credentials: ApiClientCredentials) -> None:
    """DOT hashes secrets on save unless it recognises a hash: it recognises this one."""
    application = Application.objects.get(client_id=credentials.client_id)
    stored = application.client_secret
    application.name = "Renamed"
    application.save()

    assert _stored(credentials) == stored
    assert _token(credentials.client_id, credentials.client_secret).status_code == 200


def test_a_secret_set_in_admin_is_stored_in_the_fast_form(
    credentials: ApiClientCredentials,
) -> None:
    application = Application.objects.get(client_id=credentials.client_id)
    application.client_secret = "a-new-plain-secret-" + "y" * 40
    application.save()

    assert _stored(credentials).startswith(f"{CLIENT_SECRET_ALGORITHM}$")
    assert _token(credentials.client_id, "a-new-plain-secret-" + "y" * 40).status_code == 200


# --- Wrong secrets per client ------------------------------------------------------------------


@pytest.fixture
def failure_limit(settings: Any) -> int:
    settings.API_TOKEN_CLIENT_FAILURES_PER_MINUTE = 1
    settings.API_TOKEN_CLIENT_FAILURE_BURST = 3
    return 3


def test_wrong_secrets_for_one_client_are_429_after_the_limit(
    credentials: ApiClientCredentials, enterprise: Enterprise, failure_limit: int
) -> None:
    other = api_client_create(enterprise=enterprise, name="Cerner")
    # From many addresses: the limit is the client's, not an address's.
    for n in range(failure_limit):
        response = _token(credentials.client_id, "wrong", REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code == 401

    refused = _token(credentials.client_id, "wrong", REMOTE_ADDR="198.51.100.99")
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["error"] == "rate_limited"
    assert refused.json()["error_description"]
    assert int(refused["Retry-After"]) >= 1
    assert refused["Cache-Control"] == "no-store"

    # Another client is not held up...
    assert _token(other.client_id, other.client_secret).status_code == 200
    # ...nor, since only failures count, is the real client with its right secret.
    assert _token(credentials.client_id, credentials.client_secret).status_code == 200
    assert AccessToken.objects.count() == 2


def test_unknown_client_ids_use_no_clients_budget(
    credentials: ApiClientCredentials, failure_limit: int
) -> None:
    for n in range(failure_limit * 3):
        assert _token(f"unknown-{n}", "wrong").status_code == 401
    assert _token(credentials.client_id, "wrong").status_code == 401


def test_right_secrets_do_not_use_the_budget(
    credentials: ApiClientCredentials, failure_limit: int
) -> None:
    for _ in range(failure_limit * 2):
        assert _token(credentials.client_id, credentials.client_secret).status_code == 200
    assert _token(credentials.client_id, "wrong").status_code == 401


def test_an_old_pbkdf2_secret_counts_every_attempt_before_the_slow_check(
    credentials: ApiClientCredentials, failure_limit: int, settings: Any
) -> None:
    """Until it is re-hashed, a slow secret is checked only within the budget: a flood cannot
    buy PBKDF2 work. Once re-hashed, the usual rule (failures only) applies."""
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, PBKDF2]
    legacy = make_password(credentials.client_secret, hasher="pbkdf2_sha256")
    Application.objects.filter(client_id=credentials.client_id).update(client_secret=legacy)
    for _ in range(failure_limit):
        assert _token(credentials.client_id, "wrong").status_code == 401

    assert _token(credentials.client_id, credentials.client_secret).status_code == 429
    assert _stored(credentials) == legacy


def test_zero_turns_the_failure_limit_off(credentials: ApiClientCredentials, settings: Any) -> None:
    settings.API_TOKEN_CLIENT_FAILURES_PER_MINUTE = 0
    settings.API_TOKEN_CLIENT_FAILURE_BURST = 1
    for _ in range(5):
        assert _token(credentials.client_id, "wrong").status_code == 401
