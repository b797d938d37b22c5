"""The ASGI application served for real (uvicorn, in a thread of the test process) on
127.0.0.1: HTTP pages and the inbox's WebSocket, for browser tests of the live push.

In the test process, like pytest-django's `live_server`, so the test's database (transactional
tests) and settings are the server's too."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class AsgiServer:
    def __init__(self, application: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> AsgiServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
