"""Fixtures of the admin tests: one row of every registered model (`world`)."""

from __future__ import annotations

import pytest
from django.db.models import Model

from tests.support.admin import make_world


@pytest.fixture
def world(db: None) -> dict[type[Model], Model]:
    return make_world()
