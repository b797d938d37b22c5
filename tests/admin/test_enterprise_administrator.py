"""The enterprise administrator role: which enterprise a user administers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from practices.models import EnterpriseAdministrator
from practices.selectors import enterprise_id_administered_by_user
from tests.factories import EnterpriseFactory, UserFactory
from tests.support import client_for
from tests.support.admin import admin_url, form_data

pytestmark = pytest.mark.django_db


def test_an_administrator_administers_their_enterprise_only() -> None:
    acme, other = EnterpriseFactory(name="Acme"), EnterpriseFactory(name="Other")
    ada = UserFactory(username="ada", is_staff=True)
    EnterpriseAdministrator.objects.create(user=ada, enterprise=acme)

    assert enterprise_id_administered_by_user(user=ada) == acme.id
    assert enterprise_id_administered_by_user(user=ada) != other.id


def test_nobody_else_administers_an_enterprise() -> None:
    EnterpriseFactory(name="Acme")
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    former = UserFactory(username="former", is_active=False)
    EnterpriseAdministrator.objects.create(user=former, enterprise=EnterpriseFactory(name="Old"))

    assert enterprise_id_administered_by_user(user=root) is None
    assert enterprise_id_administered_by_user(user=former) is None
    assert enterprise_id_administered_by_user(user=AnonymousUser()) is None


def test_a_superuser_gives_the_role_on_the_enterprise_page(superuser: object) -> None:
    acme = EnterpriseFactory(name="Acme")
    ada = UserFactory(username="ada", is_staff=True)
    root = client_for(superuser)
    url = admin_url(type(acme), "change", acme.pk)
    posted = form_data(root, url)
    prefix = "administrators"
    posted[f"{prefix}-TOTAL_FORMS"] = str(int(posted[f"{prefix}-TOTAL_FORMS"]) + 1)
    posted[f"{prefix}-0-user"] = str(ada.pk)
    assert root.post(url, posted).status_code == 302
    assert enterprise_id_administered_by_user(user=ada) == acme.id
    # Ada sees who administers her enterprise, and cannot add anyone.
    page = client_for(ada).get(url).content.decode()
    assert "ada" in page
    assert f'name="{prefix}-0-user"' not in page
