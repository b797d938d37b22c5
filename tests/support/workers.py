"""Real services for the tests that need them: Celery workers as subprocesses on the test's
PostgreSQL database and Redis, a redis-server of the test's own, and the broker switch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import redis
from django.db import connection

from artera.celery import app as celery_app

from . import ServiceProcess, free_port, wait_until


def use_broker(url: str | None) -> None:
    """Point this process's Celery app at another broker. Celery has no public way to do this
    at runtime: forget its cached connection and producer pools (kombu keeps one per broker
    URL, so switching back finds the old ones intact) and the next publish uses the new URL."""
    celery_app.conf.broker_url = url
    celery_app.conf.broker_write_url = None
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def worker_database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


class CeleryWorker(ServiceProcess):
    """`celery -A artera worker` as a subprocess group: started, frozen, killed, stopped.

    `queue=None` starts it exactly as a deployment does, with no `-Q`: it consumes every queue
    of the settings (whose names the env may give)."""

    def __init__(self, *, name: str, queue: str | None, env: dict[str, str], beat: bool, tmp: Path):
        self.queue = queue
        command = [
            sys.executable, "-m", "celery", "-A", "artera", "worker",
            "-n", f"{name}@%h", "-P", "prefork", "-c", "2",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
        ]  # fmt: skip
        if queue is not None:
            command += ["-Q", queue]
        if beat:
            command += ["-B", "-s", str(tmp / f"{name}-beat-schedule")]
        super().__init__(name=name, command=command, env=env, tmp=tmp, ready=" ready.")


def forget_queue(client: redis.Redis, queue: str) -> None:
    """Leave nothing of a test queue in the shared Redis: the queue, kombu's bindings for it,
    and the unacknowledged deliveries a killed worker left (kombu would put those back on the
    queue after the visibility timeout)."""
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag, payload in client.hgetall("unacked").items():
        try:
            routing_key = json.loads(payload)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


class PrivateRedis:
    """A redis-server of the test's own, so the test may stop it (the shared one is not ours)."""

    def __init__(self, tmp: Path, binary: str):
        self.binary = binary
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: redis_reachable(self.url), timeout=20, what="private redis")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
