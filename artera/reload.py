"""One `setting_changed` hook for every object built once from settings.

Some objects are built from settings on first use and kept for the life of the process (a
gateway keeps its provider's connection pool, a rate limiter its Redis client). When a test or
a deliberate switch changes one of those settings, the cached object must be forgotten. Instead
of each module connecting a receiver of its own, the cached getter is registered here with the
settings it reads, and the one receiver below clears every cache whose settings changed.

    @reload_on("SMS_PACING_REDIS_URL", "SMS_PACING_KEY_PREFIX")
    @functools.cache
    def limiter_get() -> RateLimiter: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from django.core.signals import setting_changed
from django.dispatch import receiver


class _Clearable(Protocol):
    def cache_clear(self) -> None: ...


C = TypeVar("C", bound=_Clearable)


@dataclass(frozen=True)
class _Registration:
    names: frozenset[str]
    prefixes: tuple[str, ...]
    clear: Callable[[], None]

    def reads(self, setting: str) -> bool:
        return setting in self.names or setting.startswith(self.prefixes)


_registry: list[_Registration] = []


def reload_on(*names: str, prefixes: tuple[str, ...] = ()) -> Callable[[C], C]:
    """Register a cached getter (anything with `cache_clear`, e.g. a `functools.cache`
    function) to be cleared when one of `names`, or a setting starting with one of `prefixes`,
    changes."""

    def register(cached: C) -> C:
        _registry.append(_Registration(frozenset(names), prefixes, cached.cache_clear))
        return cached

    return register


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    for registration in _registry:
        if registration.reads(setting):
            registration.clear()
