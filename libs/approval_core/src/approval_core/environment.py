"""Reading a function's configuration from its environment (set by Terraform): one rule for
every service. Values are stripped of surrounding whitespace, and a value that is empty once
stripped counts as not set. Every problem raises ConfigurationError naming the variable and
the fix."""

from __future__ import annotations

import os
from collections.abc import Mapping

_WHERE = "(function environment)"


class ConfigurationError(Exception):
    """The function's environment is incomplete or holds a value it cannot use; the message
    names the variable and the fix."""


class Environment:
    """`environ` is the function's environment (os.environ unless a test passes another)."""

    def __init__(self, environ: Mapping[str, str] = os.environ):
        self._environ = environ

    def required(self, name: str) -> str:
        value = self.optional(name)
        if not value:
            raise ConfigurationError(
                f"{name} {_WHERE} is not set: deploy the function with the approval_gate "
                "Terraform module, or set it by hand."
            )
        return value

    def optional(self, name: str, default: str = "") -> str:
        return self._environ.get(name, "").strip() or default

    def comma_separated(self, name: str) -> tuple[str, ...]:
        """A list written `a, b, c`: each item stripped, empty items left out."""
        return tuple(item.strip() for item in self.optional(name).split(",") if item.strip())

    def boolean(self, name: str, default: bool) -> bool:
        """`true` or `false` (any case); not set: the default."""
        raw = self.optional(name).lower()
        if not raw:
            return default
        if raw not in ("true", "false"):
            raise ConfigurationError(
                f"{name} {_WHERE} is {raw!r}: set it to true or false (default "
                f"{str(default).lower()})."
            )
        return raw == "true"

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        return self._whole_number(name, default, minimum, what="a whole number", note="")

    def seconds(self, name: str, default: int, *, zero_means: str | None = None) -> int:
        """A duration in whole seconds, 0 or more; `zero_means` says what 0 does when it is
        special (the error message tells it)."""
        note = f"0 {zero_means}; " if zero_means else ""
        return self._whole_number(name, default, 0, what="a whole number of seconds", note=note)

    def _whole_number(self, name: str, default: int, minimum: int, *, what: str, note: str) -> int:
        raw = self.optional(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise ConfigurationError(
                f"{name} {_WHERE} is {raw!r}: set it to {what}, {minimum} or more "
                f"({note}default {default})."
            )
        return value
