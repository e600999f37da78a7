"""What the commands print: rich tables and text for people, `--json` for scripts (stdout),
messages and errors on stderr."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console


class Output:
    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.console = Console(highlight=False, soft_wrap=False)
        if not self.console.is_terminal and not os.environ.get("COLUMNS"):
            self.console.width = 160  # piped or logged: wide lines rather than folded cells
        self.errors = Console(stderr=True, highlight=False)

    def emit(self, data: Any, render: Callable[[Console], None]) -> None:
        if self.as_json:
            print(json.dumps(data, indent=2, default=_json_default))
        else:
            render(self.console)

    def note(self, text: str) -> None:
        """A remark for people (stderr, so that --json output stays clean)."""
        self.errors.print(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set):
        return sorted(value)
    return str(value)


def now_epoch() -> float:
    return datetime.now(UTC).timestamp()


def duration(seconds: float) -> str:
    """3d 4h, 2h 5m, 7m 3s, 12s."""
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def clock(value: str | datetime | None) -> str:
    """An ISO 8601 time as `2026-11-30 10:58:45` UTC; '' for none."""
    if value is None or value == "":
        return ""
    when = value if isinstance(value, datetime) else parse_time(value)
    if when is None:
        return str(value)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
