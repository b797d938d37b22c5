"""Settings from the environment: a value that is not what the variable takes stops start-up
with a message naming the variable, instead of quietly becoming a default (a typo in
DJANGO_HTTPS must not turn HSTS and secure cookies off)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from artera.settings import env_bool, env_float, env_float_list, env_int
from tests.support import BASE_DIR


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("False", False),
     ("no", False), ("off", False), ("", None)],
)  # fmt: skip
def test_yes_no_spellings(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool | None) -> None:
    monkeypatch.setenv("ARTERA_TEST_FLAG", raw)
    assert env_bool("ARTERA_TEST_FLAG", default=True) is (True if expected is None else expected)


@pytest.mark.parametrize("raw", ["ture", "y", "2", "enabled", "1 # on"])
def test_a_typo_in_a_yes_no_variable_names_it(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ARTERA_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="ARTERA_TEST_FLAG"):
        env_bool("ARTERA_TEST_FLAG")


@pytest.mark.parametrize(
    ("parse", "raw"),
    [(env_int, "12.5"), (env_int, "ten"), (env_float, "fast"), (env_float, "nan"),
     (env_float, "inf"), (env_float_list, "0,5,soon")],
)  # fmt: skip
def test_numbers_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, parse: object, raw: str
) -> None:
    monkeypatch.setenv("ARTERA_TEST_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured, match="ARTERA_TEST_NUMBER"):
        parse("ARTERA_TEST_NUMBER", "1" if parse is env_float_list else 1)  # type: ignore[operator]


def test_unset_numbers_take_their_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARTERA_TEST_NUMBER", raising=False)
    assert env_int("ARTERA_TEST_NUMBER", 7) == 7
    value = env_float("ARTERA_TEST_NUMBER", 2)
    assert value == 2.0
    assert isinstance(value, float)


@pytest.mark.parametrize(
    ("name", "raw"),
    [("DJANGO_HTTPS", "ture"), ("DJANGO_DEBUG", "maybe"), ("API_MAX_BODY_BYTES", "64k"),
     ("SMS_OUTBOX_SWEEP_SECONDS", "thirty")],
)  # fmt: skip
def test_start_up_stops_and_says_which_variable(name: str, raw: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env[name] = raw
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"{name}={raw!r}" in result.stderr
