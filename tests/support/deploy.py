"""A deployment a test started (tests/deploy): its web server, worker and beat, and their logs."""

from __future__ import annotations

from dataclasses import dataclass

from . import ServiceProcess
from .workers import CeleryWorker


@dataclass
class Deployment:
    base_url: str
    web: ServiceProcess
    worker: CeleryWorker
    beat: ServiceProcess
    queues: tuple[str, str, str]

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.log()[-4000:]}" for p in (self.web, self.worker, self.beat)
        )
