"""X-Ray for the functions: a small UDP daemon that keeps the segments they send.

With ``lambda_settings.capture_traces`` on (``sandbox.awslambda.tracing``), the first worker
started gets this daemon (on 127.0.0.1, a free port) as ``AWS_XRAY_DAEMON_ADDRESS``. It takes
the X-Ray SDK's UDP documents (``{"format":"json","version":1}`` newline, then a segment or
subsegment), keeps them in memory (``segments()``, ``GET /moto-api/sandbox/xray/segments``;
``clear()``, ``DELETE``) and in moto's X-Ray backend of the function's account and Region
(X-Ray's ``BatchGetTraces``). ``sandbox.reset()`` stops it and forgets what it kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from moto.xray.models import xray_backends

from sandbox import iam

_log = logging.getLogger(__name__)
HEADER = b'{"format":"json","version":1}'
_lock = threading.Lock()
_socket: socket.socket | None = None
_thread: threading.Thread | None = None
_segments: list[dict[str, Any]] = []
# trace id -> account, Region, the function's execution role
_traces: OrderedDict[str, tuple[str, str, str | None]] = OrderedDict()


def start() -> str:
    """The daemon's address ("127.0.0.1:<port>"), started if it is not running."""
    global _socket, _thread
    with _lock:
        if _socket is None:
            _socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            _socket.bind(("127.0.0.1", 0))
            _socket.settimeout(0.5)
            _thread = threading.Thread(
                target=_receive, args=(_socket,), name="sandbox-xray", daemon=True
            )
            _thread.start()
        host, port = _socket.getsockname()
        return f"{host}:{port}"


def stop() -> None:
    """Stop the daemon and forget the segments (sandbox.reset)."""
    global _socket, _thread
    with _lock:
        sock, thread, _socket, _thread = _socket, _thread, None, None
        _segments.clear()
        _traces.clear()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes recvfrom (else its timeout does)
    if thread is not None:
        thread.join(timeout=2)
    if sock is not None:
        sock.close()


def segments() -> list[dict[str, Any]]:
    """The documents received so far, in order of arrival (parsed JSON)."""
    with _lock:
        return list(_segments)


def clear() -> None:
    with _lock:
        _segments.clear()


def _receive(sock: socket.socket) -> None:
    while True:
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            data = b""
        except OSError:
            return
        if not data:  # a timeout, or stop()
            with _lock:
                if _socket is not sock:
                    return
            continue
        header, _, body = data.partition(b"\n")
        try:
            if json.loads(header).get("format") != "json":
                raise ValueError(header)
            document = json.loads(body)
        except ValueError:
            _log.warning("the X-Ray daemon dropped a document it cannot read: %.200r", data)
            continue
        with _lock:
            if _socket is not sock:
                return
            owner = _traces.get(str(document.get("trace_id")))
        if owner is not None and not _may_send(document, owner[1], owner[2]):
            continue
        with _lock:
            _segments.append(document)
        if owner is not None:
            try:
                xray_backends[owner[0]][owner[1]].process_segment(body.decode())
            except Exception as exc:  # kept in memory all the same
                _log.warning("moto's X-Ray refused a segment: %s", exc)


def _may_send(document: dict[str, Any], region: str, role_arn: str | None) -> bool:
    """Lambda's daemon writes segments with the function's role: without
    xray:PutTraceSegments they are lost (docs/aws-behaviour.md#xray-lambda-active-tracing)."""
    if role_arn is None:
        return True
    try:
        iam.authorize(
            iam.role_session(role_arn, "xray-daemon"), "xray:PutTraceSegments", "*", region=region
        )
    except iam.AccessDenied as denied:
        _log.warning("segment %s lost: %s", document.get("id"), denied.message)
        return False
    return True


# --- what Lambda does for a function with Active tracing ----------------------------------


def new_trace(account_id: str, region: str, role_arn: str | None = None) -> tuple[str, str]:
    """A trace id and the id of the function's segment; its segments go to that account,
    sent as the function's execution role ``role_arn`` (as Lambda's daemon does)."""
    trace_id = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    with _lock:
        _traces[trace_id] = (account_id, region, role_arn)
        while len(_traces) > 10_000:
            _traces.popitem(last=False)
    return trace_id, os.urandom(8).hex()


def send(address: str, document: dict[str, Any]) -> None:
    """A segment to the daemon at ``address`` (the SDK's forms: "host:port", or "tcp:host:port
    udp:host:port"), as the SDK sends it: UDP, no answer."""
    parts = address.split()
    udp = next((part[4:] for part in parts if part.startswith("udp:")), parts[0])
    host, _, port = udp.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.sendto(HEADER + b"\n" + json.dumps(document).encode(), (host, int(port)))
