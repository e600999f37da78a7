"""A controllable clock for the sandbox.

Real time by default. Tests move it forward (``clock.advance(seconds)``) or pin it
(``clock.freeze(at)``) to make approval timeouts happen without waiting.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None

    def now(self) -> datetime:
        """Current sandbox time, timezone-aware UTC."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return datetime.now(UTC) + self._offset

    @property
    def frozen(self) -> bool:
        """Pinned by ``freeze``: it moves only with ``advance``."""
        with self._lock:
            return self._frozen_at is not None

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the clock forward (frozen or not) and return the new time."""
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta
        return self.now()

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock at ``at`` (default: now); it then moves only with ``advance``."""
        moment = at or self.now()
        if moment.tzinfo is None:
            raise ValueError("freeze() needs a timezone-aware datetime")
        with self._lock:
            self._frozen_at = moment.astimezone(UTC)
        return moment

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = timedelta(0)
            self._frozen_at = None


clock = Clock()
