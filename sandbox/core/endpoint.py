"""The local AWS's HTTP endpoint, which the functions' boto3 and Step Functions' service
integrations call.

``LocalAws`` sets it (``set_endpoint``); else it is the latest moto server started in this
process (``install`` notes every ThreadedMotoServer's endpoint as it starts and stops); else,
in-process (``mock_aws``), ``endpoint()`` starts a bridge server on 127.0.0.1 that
``stop_bridge`` (``sandbox.reset()``) stops.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

_lock = threading.RLock()
_endpoint: str | None = None
_bridge: Any = None  # a ThreadedMotoServer when none was set (in-process use, mock_aws)
_servers: list[str] = []  # endpoints of the ThreadedMotoServers running in this process
_originals: dict[str, Any] = {}


class _QuickServer(ThreadedMotoServer):
    """A ThreadedMotoServer that stops at once (moto's polls for shutdown every 0.5 s)."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)


def moto_server(port: int = 0, host: str = "127.0.0.1") -> ThreadedMotoServer:
    """A moto server on ``host``:``port`` (0: a free port), not started."""
    return _QuickServer(ip_address=host, port=port, verbose=False)


def set_endpoint(url: str | None) -> None:
    """The sandbox's HTTP endpoint the functions' boto3 uses (LocalAws sets it)."""
    global _endpoint
    with _lock:
        _endpoint = url.rstrip("/") if url else None


def server_endpoint() -> str | None:
    """The endpoint set by LocalAws, else the latest moto server started in this process."""
    with _lock:
        return _endpoint or (_servers[-1] if _servers else None)


def endpoint() -> str:
    """The endpoint for functions; in-process (mock_aws) a bridge server on 127.0.0.1."""
    global _bridge
    with _lock:
        found = server_endpoint()
        if found:
            return found
        if _bridge is None:
            quiet_request_log()
            server = moto_server()
            server.start()
            _bridge = server
        host, port = _bridge.get_host_and_port()
        return f"http://{host}:{port}"


def stop_bridge() -> None:
    """Stop the in-process bridge server, if one runs."""
    global _bridge
    with _lock:
        bridge, _bridge = _bridge, None
    if bridge is not None:
        bridge.stop()


def quiet_request_log() -> None:
    """No line per HTTP request from werkzeug (moto's server) unless logging asks for them."""
    werkzeug = logging.getLogger("werkzeug")
    if werkzeug.level == logging.NOTSET:
        werkzeug.setLevel(logging.WARNING)


def install() -> None:
    """Note the endpoint of every ThreadedMotoServer this process starts (idempotent)."""
    with _lock:
        if _originals:
            return
        _originals["start"] = ThreadedMotoServer.start
        _originals["stop"] = ThreadedMotoServer.stop

    def start(self: Any) -> None:
        _originals["start"](self)
        host, port = self.get_host_and_port()
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        self._sandbox_endpoint = f"http://{host}:{port}"
        with _lock:
            _servers.append(self._sandbox_endpoint)

    def stop(self: Any) -> None:
        url = getattr(self, "_sandbox_endpoint", None)
        with _lock:
            if url in _servers:
                _servers.remove(url)
        _originals["stop"](self)

    ThreadedMotoServer.start = start  # type: ignore[method-assign]
    ThreadedMotoServer.stop = stop  # type: ignore[method-assign]
