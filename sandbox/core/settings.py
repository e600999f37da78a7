"""Settings of the local AWS: the registry every service adds its settings to.

The project's rule: the local AWS is never kinder than AWS. Where AWS documents nothing, each
plausible behaviour is a value of a `Variant` (the first value is the default) and the suite
runs the gate under every value; docs/aws-behaviour.md#<anchor> says what AWS documents and
what it leaves open. The quotas (`Limit`) are documented; they are settings so tests can reach
them. A service registers its variants and limits on ``settings`` (``sandbox/ssm/settings.py``,
``sandbox/dynamodb/settings.py``), and its plain settings (delays, switches) as a group of
their own (``register_group``: ``lambda``, ``schedules``).

    from sandbox.core.settings import settings, variants
    settings.rejection_status = "Rejected"   # ValueError for a value not allowed
    [variant.name for variant in variants()]
    settings.reset()                          # every default back

Over HTTP: ``GET/POST /moto-api/sandbox/settings`` ``{"sandbox": {...}, "lambda": {...}}``
(400 for a value not allowed); the GET lists the registry under ``"sandbox_variants"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

DOCS = "docs/aws-behaviour.md"


@dataclass(frozen=True)
class Variant:
    """An undocumented behaviour and the values the local AWS can show (first: default)."""

    name: str
    values: tuple[Any, ...]
    anchor: str
    summary: str
    # Numeric variants take any number >= this (the suite runs `values`); None: only `values`.
    at_least: float | None = None
    whole: bool = False  # with at_least: integers only

    @property
    def default(self) -> Any:
        return self.values[0]

    @property
    def doc(self) -> str:
        return f"{DOCS}#{self.anchor}"

    def allows(self, value: Any) -> bool:
        if self.at_least is not None:
            kinds = (int,) if self.whole else (int, float)
            return type(value) in kinds and value >= self.at_least
        # Strict types: True is not 1, "0" is not 0.
        return any(type(value) is type(item) and value == item for item in self.values)

    def allowed(self) -> str:
        listed = ", ".join(repr(item) for item in self.values)
        if self.at_least is not None:
            kind = "an integer" if self.whole else "a number"
            return f"{kind} >= {self.at_least:g} (the suite runs {listed})"
        return f"one of {listed}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"default": self.default, "doc": self.doc}


@dataclass(frozen=True)
class Limit:
    """A documented quota the local AWS enforces: an integer >= `minimum` (or None)."""

    name: str
    default: int | None
    minimum: int
    anchor: str
    summary: str
    none_allowed: bool = False

    def allows(self, value: Any) -> bool:
        if value is None:
            return self.none_allowed
        return type(value) is int and value >= self.minimum

    def allowed(self) -> str:
        return f"an integer >= {self.minimum}" + (" or null" if self.none_allowed else "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"doc": f"{DOCS}#{self.anchor}"}


class Settings:
    """The current value of every registered Variant and Limit; each assignment is checked."""

    def __init__(self) -> None:
        # Through object.__setattr__: this class's own __setattr__ sets the settings' values.
        object.__setattr__(self, "_entries", {})
        object.__setattr__(self, "_values", {})

    def register(self, *entries: Variant | Limit) -> None:
        """Add a service's entries; ``variants()`` lists them in the order registered."""
        for entry in entries:
            if entry.name in self._entries or hasattr(type(self), entry.name):
                raise ValueError(f"a setting named {entry.name!r} exists already")
            self._entries[entry.name] = entry
            self._values[entry.name] = entry.default

    def __getattr__(self, name: str) -> Any:
        # Called only for what the object lacks as an attribute: a setting's value.
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"sandbox.settings has no setting {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self.check(name, value)
        self._values[name] = value

    def check(self, name: str, value: Any) -> None:
        """ValueError naming the setting and what it takes, unless ``value`` is allowed."""
        entry = self._entries.get(name)
        if entry is None:
            raise ValueError(
                f"sandbox.settings has no setting {name!r} (settings: {', '.join(self._entries)})"
            )
        if not entry.allows(value):
            raise ValueError(
                f"sandbox.settings.{name} must be {entry.allowed()}, not {value!r} "
                f"(see {DOCS}#{entry.anchor})"
            )

    def reset(self) -> None:
        for name, entry in self._entries.items():
            self._values[name] = entry.default

    def variants(self) -> tuple[Variant, ...]:
        """Every undocumented behaviour the local AWS can show, in a stable order."""
        return tuple(entry for entry in self._entries.values() if isinstance(entry, Variant))

    def limits(self) -> tuple[Limit, ...]:
        return tuple(entry for entry in self._entries.values() if isinstance(entry, Limit))

    def names(self) -> list[str]:
        return list(self._entries)

    def values(self) -> dict[str, Any]:
        return dict(self._values)

    def registry(self) -> dict[str, dict[str, Any]]:
        """The registry as JSON-ready dicts (HTTP GET), with each setting's current value."""
        return {
            name: entry.as_dict() | {"value": self._values[name]}
            for name, entry in self._entries.items()
        }


class SettingsGroup:
    """Base of a service's plain settings, a dataclass: its fields are the settings."""

    def reset(self) -> None:
        for item in fields(self):  # type: ignore[arg-type]
            setattr(self, item.name, item.default)

    def names(self) -> list[str]:
        return [item.name for item in fields(self)]  # type: ignore[arg-type]

    def values(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


settings = Settings()
variants = settings.variants
limits = settings.limits

# The groups of ``/moto-api/sandbox/settings``, by name: "sandbox" is the registry above.
_groups: dict[str, Settings | SettingsGroup] = {"sandbox": settings}


def register_group(name: str, group: SettingsGroup) -> None:
    _groups[name] = group


def groups() -> dict[str, Settings | SettingsGroup]:
    return dict(_groups)
