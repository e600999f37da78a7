"""Background tasks of the local AWS: threads that ``sandbox.reset()`` stops and waits for.

Asynchronous Lambda invocations and EventBridge deliveries run on such threads (``spawn``);
they wait with ``sleep``, which returns False once the sandbox stops, and look at
``stopping()`` before each attempt, so a reset ends them without a verdict on their event.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_stopping = threading.Event()
_threads: set[threading.Thread] = set()


def spawn(target: Callable[..., None], *args: Any, name: str = "sandbox") -> threading.Thread:
    """A background thread that ``stopping_all()`` waits for."""

    def run() -> None:
        try:
            target(*args)
        except Exception:
            _log.exception("sandbox background task %s failed", name)
        finally:
            with _lock:
                _threads.discard(threading.current_thread())

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _lock:
        _threads.add(thread)
    thread.start()
    return thread


def sleep(seconds: float) -> bool:
    """Wait; False if the sandbox is stopping (the caller then gives up)."""
    return not _stopping.wait(max(seconds, 0))


def stopping() -> bool:
    return _stopping.is_set()


@contextlib.contextmanager
def stopping_all(timeout: float = 5.0) -> Iterator[None]:
    """Stop the background tasks: inside the block ``stopping()`` is True and the caller wakes
    what they may wait on (the Lambda workers); then the tasks running when it began are
    waited for, ``timeout`` seconds in all, and ``stopping()`` is False again."""
    _stopping.set()
    with _lock:
        threads = list(_threads)
    try:
        yield
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(deadline - time.monotonic(), 0))
    finally:
        _stopping.clear()
