"""The sandbox's own controls over HTTP, beside moto's (``/moto-api/...``), for tests and
demos that drive a server in another process: the registry of their routes, and the routes
of the core (clock, faults, settings).

Each service registers its routes where it is defined (``@route("expire", "POST")`` in
``sandbox/ssm/controls.py`` answers ``POST /moto-api/sandbox/expire``); ``install()`` adds them
to moto's ``moto_api`` URL table (the mechanism behind ``/moto-api/reset``), so any
ThreadedMotoServer started after ``sandbox.install()`` answers them. JSON in, JSON out; a
handler's ValueError, TypeError or KeyError answers 400 with its message. The routes and
their bodies: sandbox/LOCAL_AWS.md, "Controls".
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.moto_api._internal import urls

from sandbox.core import faults
from sandbox.core.clock import clock
from sandbox.core.settings import groups, settings

Response = tuple[int, dict[str, str], str]
Action = Callable[[str, dict[str, Any]], Any]
PREFIX = "/moto-api/sandbox/"
_HEADERS = {"Content-Type": "application/json"}
_routes: dict[str, Callable[..., Response]] = {}
# What else POST clock/advance does, by the key of its answer (SSM: "expired").
_after_clock_advance: dict[str, Callable[[], Any]] = {}


def _body(request: Any) -> dict[str, Any]:
    raw = getattr(request, "body", None)
    if raw is None and hasattr(request, "get_data"):
        raw = request.get_data()
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def _reply(status: int, value: Any) -> Response:
    return status, dict(_HEADERS), json.dumps(value, default=str)


def route(path: str, *methods: str) -> Callable[[Action], Callable[..., Response]]:
    """Register ``action(method, body)`` as ``/moto-api/sandbox/<path>`` for ``methods``."""

    def register(action: Action) -> Callable[..., Response]:
        def handler(request: Any, full_url: str, headers: Any) -> Response:
            method = str(getattr(request, "method", "GET")).upper()
            if method not in methods:
                return _reply(405, {"error": f"use {' or '.join(methods)}"})
            try:
                return _reply(200, action(method, _body(request)))
            except (ValueError, TypeError, KeyError) as exc:
                return _reply(400, {"error": f"{type(exc).__name__}: {exc}"})

        handler.__name__ = f"sandbox_{action.__name__}"
        _routes[f"{{0}}{PREFIX}{path}$"] = handler
        return handler

    return register


def after_clock_advance(key: str, action: Callable[[], Any]) -> None:
    """Run ``action`` after every ``POST clock/advance``; its result is the answer's ``key``."""
    _after_clock_advance[key] = action


def install() -> None:
    """Add the routes to moto's ``moto_api`` URL table (idempotent; before a server starts)."""
    urls.url_paths.update(_routes)


# --- the core's routes ----------------------------------------------------------------------


def _clock_state() -> dict[str, Any]:
    return {"now": clock.now().isoformat(), "frozen": clock.frozen}


@route("clock", "GET")
def clock_now(method: str, body: dict[str, Any]) -> Any:
    return _clock_state()


@route("clock/advance", "POST")
def clock_advance(method: str, body: dict[str, Any]) -> Any:
    clock.advance(float(body["seconds"]))
    return _clock_state() | {key: action() for key, action in _after_clock_advance.items()}


@route("clock/freeze", "POST")
def clock_freeze(method: str, body: dict[str, Any]) -> Any:
    at = body.get("at")
    clock.freeze(datetime.fromisoformat(at) if at else None)
    return _clock_state()


@route("clock/reset", "POST")
def clock_reset(method: str, body: dict[str, Any]) -> Any:
    clock.reset()
    return _clock_state()


@route("faults", "GET", "POST", "DELETE")
def fault_list(method: str, body: dict[str, Any]) -> Any:
    if method == "POST":
        faults.inject(
            body.pop("service"),
            body.pop("operation"),
            body.pop("error_code", "ThrottlingException"),
            **body,
        )
    elif method == "DELETE":
        faults.clear()
    return {"faults": [_fault_dict(fault) for fault in faults.active()]}


def _fault_dict(fault: faults.Fault) -> dict[str, Any]:
    return {
        item.name: getattr(fault, item.name)
        for item in dataclasses.fields(fault)
        if not item.name.startswith("_")
    }


@route("settings", "GET", "POST")
def settings_view(method: str, body: dict[str, Any]) -> Any:
    """``{"sandbox": {...}, "lambda": {...}, "schedules": {...}}`` sets values (a value a
    setting does not allow: 400 naming the setting and what it takes); the answer adds
    ``"sandbox_variants"``, the registry of ``sandbox.settings`` (values, default, anchor in
    docs/aws-behaviour.md, summary, current value)."""
    by_name = groups()
    if method == "POST":
        for name, values in body.items():
            if name not in by_name:
                raise KeyError(f"no settings group {name!r} (groups: {sorted(by_name)})")
            group = by_name[name]
            names = group.names()
            for setting, value in values.items():
                if setting not in names:
                    raise KeyError(f"{name} has no setting {setting!r} (settings: {sorted(names)})")
                current = getattr(group, setting)
                setattr(group, setting, tuple(value) if isinstance(current, tuple) else value)
    answer = {name: group.values() for name, group in by_name.items()}
    return answer | {"sandbox_variants": settings.registry()}
