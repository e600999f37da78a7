"""The sandbox's own controls over HTTP, beside moto's (``/moto-api/...``), for tests and
demos that drive a server in another process.

Registered in moto's ``moto_api`` URL table (the mechanism behind ``/moto-api/reset``), so the
server of ``sandbox.server`` (or any ThreadedMotoServer started after ``sandbox.install()``)
answers them. JSON in, JSON out:

| method and path | body | does |
| --- | --- | --- |
| ``GET /moto-api/sandbox/clock`` | | ``{"now": ISO 8601, "frozen": bool}`` |
| ``POST /moto-api/sandbox/clock/advance`` | ``{"seconds": 3600}`` | moves it, expires what is due |
| ``POST /moto-api/sandbox/clock/freeze`` | ``{"at": ISO 8601}`` (optional) | stops the clock |
| ``POST /moto-api/sandbox/clock/reset`` | | back to real time |
| ``POST /moto-api/sandbox/expire`` | | times out due approvals now: ``{"expired": [ids]}`` |
| ``GET/POST/DELETE /moto-api/sandbox/faults`` | ``faults.inject`` arguments | list, inject, clear |
| ``GET/POST /moto-api/sandbox/settings`` | ``{"sandbox"/"lambda"/"schedules": {...}}`` | values |
| ``GET /moto-api/sandbox/lambda/workers`` | | the running Lambda workers |
| ``POST /moto-api/sandbox/reset`` | | ``sandbox.reset()`` (moto's state: ``/moto-api/reset``) |
| ``GET /moto-api/sandbox/schedules`` | | scheduled rules: expression, state, last, next |
| ``POST /moto-api/sandbox/schedules/fire`` | | fires due schedules now: ``{"fired": [...]}`` |
| ``GET/POST/DELETE /moto-api/sandbox/events/drop`` | ``eventbridge.drop_events`` arguments | |
| ``GET/DELETE /moto-api/sandbox/iam/denials`` | | IAM refusals: ``{"enforce", "denials"}``; clear |

``events/drop`` POST ``{"source", "detail_type", "detail", "times"}`` (``times`` default 1,
``null``: until cleared) answers ``{"drop": {"id", ..., "dropped": 0}}``; GET lists every drop
with its ``dropped`` count; DELETE clears them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

Response = tuple[int, dict[str, str], str]
_HEADERS = {"Content-Type": "application/json"}


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


def _endpoint(methods: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    def wrap(action: Callable[[str, dict[str, Any]], Any]) -> Callable[..., Response]:
        def handler(request: Any, full_url: str, headers: Any) -> Response:
            method = str(getattr(request, "method", "GET")).upper()
            if method not in methods:
                return _reply(405, {"error": f"use {' or '.join(methods)}"})
            try:
                return _reply(200, action(method, _body(request)))
            except (ValueError, TypeError, KeyError) as exc:
                return _reply(400, {"error": f"{type(exc).__name__}: {exc}"})

        handler.__name__ = f"sandbox_{action.__name__}"
        return handler

    return wrap


def _clock_state() -> dict[str, Any]:
    from sandbox.clock import clock

    return {"now": clock.now().isoformat(), "frozen": clock._frozen_at is not None}


@_endpoint(("GET",))
def clock_now(method: str, body: dict[str, Any]) -> Any:
    return _clock_state()


@_endpoint(("POST",))
def clock_advance(method: str, body: dict[str, Any]) -> Any:
    from sandbox.clock import clock
    from sandbox.ssm_automation import expire_due

    clock.advance(float(body["seconds"]))
    return {**_clock_state(), "expired": expire_due()}


@_endpoint(("POST",))
def clock_freeze(method: str, body: dict[str, Any]) -> Any:
    from sandbox.clock import clock

    at = body.get("at")
    clock.freeze(datetime.fromisoformat(at) if at else None)
    return _clock_state()


@_endpoint(("POST",))
def clock_reset(method: str, body: dict[str, Any]) -> Any:
    from sandbox.clock import clock

    clock.reset()
    return _clock_state()


@_endpoint(("POST",))
def expire(method: str, body: dict[str, Any]) -> Any:
    from sandbox.ssm_automation import expire_due

    return {"expired": expire_due()}


@_endpoint(("GET", "POST", "DELETE"))
def fault_list(method: str, body: dict[str, Any]) -> Any:
    from sandbox import faults

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


def _fault_dict(fault: Any) -> dict[str, Any]:
    return {
        item.name: getattr(fault, item.name)
        for item in dataclasses.fields(fault)
        if not item.name.startswith("_")
    }


def _settings_objects() -> dict[str, Any]:
    from sandbox.lambda_runtime import lambda_settings
    from sandbox.schedules import schedule_settings
    from sandbox.settings import settings

    return {"sandbox": settings, "lambda": lambda_settings, "schedules": schedule_settings}


@_endpoint(("GET", "POST"))
def settings_view(method: str, body: dict[str, Any]) -> Any:
    """``{"sandbox": {...}, "lambda": {...}, "schedules": {...}}`` sets values (a value a
    setting does not allow: 400 naming the setting and what it takes); the answer adds
    ``"sandbox_variants"``, the registry of ``sandbox.settings`` (values, default, anchor in
    docs/aws-behaviour.md, summary, current value)."""
    from sandbox.settings import registry

    objects = _settings_objects()
    if method == "POST":
        for group, values in body.items():
            if group not in objects:
                raise KeyError(f"no settings group {group!r} (groups: {sorted(objects)})")
            target = objects[group]
            names = {item.name: item for item in dataclasses.fields(target)}
            for name, value in values.items():
                if name not in names:
                    raise KeyError(f"{group} has no setting {name!r} (settings: {sorted(names)})")
                current = getattr(target, name)
                setattr(target, name, tuple(value) if isinstance(current, tuple) else value)
    answer = {group: dataclasses.asdict(target) for group, target in objects.items()}
    return answer | {"sandbox_variants": registry()}


@_endpoint(("GET",))
def lambda_workers(method: str, body: dict[str, Any]) -> Any:
    from sandbox import lambda_runtime

    return {"workers": lambda_runtime.workers()}


@_endpoint(("GET",))
def schedule_list(method: str, body: dict[str, Any]) -> Any:
    from sandbox import schedules

    return {"schedules": schedules.schedules()}


@_endpoint(("POST",))
def schedules_fire(method: str, body: dict[str, Any]) -> Any:
    from sandbox import schedules

    return {"fired": schedules.fire_due()}


@_endpoint(("GET", "POST", "DELETE"))
def event_drops(method: str, body: dict[str, Any]) -> Any:
    from sandbox import eventbridge

    if method == "POST":
        unknown = set(body) - {"source", "detail_type", "detail", "times"}
        if unknown:
            raise KeyError(f"unknown fields {sorted(unknown)}")
        drop = eventbridge.drop_events(
            body["source"], body.get("detail_type"), body.get("detail"), body.get("times", 1)
        )
        return {"drop": drop.as_dict()}
    if method == "DELETE":
        eventbridge.clear_drops()
    return {"drops": [drop.as_dict() for drop in eventbridge.drops()]}


@_endpoint(("GET", "DELETE"))
def iam_denials(method: str, body: dict[str, Any]) -> Any:
    from sandbox import iam

    if method == "DELETE":
        iam.clear_denials()
    return {"enforce": iam.iam_settings.enforce, "denials": iam.denials()}


@_endpoint(("POST",))
def sandbox_reset(method: str, body: dict[str, Any]) -> Any:
    import sandbox

    sandbox.reset()
    return {"status": "ok"}


URL_PATHS: dict[str, Callable[..., Response]] = {
    "{0}/moto-api/sandbox/clock$": clock_now,
    "{0}/moto-api/sandbox/clock/advance$": clock_advance,
    "{0}/moto-api/sandbox/clock/freeze$": clock_freeze,
    "{0}/moto-api/sandbox/clock/reset$": clock_reset,
    "{0}/moto-api/sandbox/expire$": expire,
    "{0}/moto-api/sandbox/faults$": fault_list,
    "{0}/moto-api/sandbox/settings$": settings_view,
    "{0}/moto-api/sandbox/lambda/workers$": lambda_workers,
    "{0}/moto-api/sandbox/reset$": sandbox_reset,
    "{0}/moto-api/sandbox/schedules$": schedule_list,
    "{0}/moto-api/sandbox/schedules/fire$": schedules_fire,
    "{0}/moto-api/sandbox/events/drop$": event_drops,
    "{0}/moto-api/sandbox/iam/denials$": iam_denials,
}


def install() -> None:
    """Add the paths to moto's ``moto_api`` URL table (idempotent; before a server starts)."""
    from moto.moto_api._internal import urls

    urls.url_paths.update(URL_PATHS)
