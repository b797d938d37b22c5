"""The hand-built week every Insights test reads (tests/support/insights.py), rolled up."""

from __future__ import annotations

import pytest

from insights.rollup import rollup_rebuild
from tests.support.insights import FIRST_DAY, World, world_build


@pytest.fixture
def world(db: None) -> World:
    built = world_build()
    rollup_rebuild(first_day=FIRST_DAY)
    return built
