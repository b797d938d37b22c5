"""The inbox's live push during the inbox and thread scenarios: an ASGI server (uvicorn, the
production setup's `/ws/` process) next to gunicorn, and signed-in sockets listening on it.

Each thread page view publishes a presence event after commit (the push is on in every
scenario: REDIS_URL is set), so the scenarios measure the pages with publishing on; the
listeners count what reached them, which `bench/run.py` reports next to the page's numbers.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


@dataclass
class Listeners:
    received: int = 0
    connected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def count(self) -> int:
        with self._lock:
            return self.received

    def _listen(self, url: str, cookie: str, origin: str) -> None:
        try:
            with connect(
                url, additional_headers={"Cookie": cookie}, origin=origin, open_timeout=10
            ) as socket:
                with self._lock:
                    self.connected += 1
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        socket.recv(timeout=0.5)
                        with self._lock:
                            self.received += 1
        except (OSError, ConnectionClosed):
            return


@contextlib.contextmanager
def listening(*, ws_url: str, origin: str, cookie: str, sockets: int) -> Iterator[Listeners]:
    listeners = Listeners()
    threads = [
        threading.Thread(target=listeners._listen, args=(ws_url, cookie, origin), daemon=True)
        for _ in range(sockets)
    ]
    for thread in threads:
        thread.start()
    try:
        yield listeners
    finally:
        listeners._stop.set()
        for thread in threads:
            thread.join(5)
