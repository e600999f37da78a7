"""Fault injection at moto's dispatch: make an operation of any service fail.

Hooks ``BaseResponse._dispatch``, the entry point of every moto service response class,
both in-process (``mock_aws``) and in server mode. A matching request gets a real AWS
error response, serialized in the service's protocol, so boto3 raises a ClientError with
the given code and HTTP status (and retries it when botocore deems the code retryable).

    fault = faults.inject("ssm", "StartAutomationExecution", "ThrottlingException", times=2)
    faults.inject("stepfunctions", "SendTaskSuccess", "ThrottlingException",
                  probability=0.3, seed=7)
    faults.inject("dynamodb", "UpdateItem", "ResourceNotFoundException", times=1,
                  body_contains='"approval#')   # only a request whose body holds this
    faults.clear()
"""

from __future__ import annotations

import random
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse

# moto's service names that differ from boto3's, so either spelling works.
_ALIASES = {"states": "stepfunctions", "eventbridge": "events"}


@dataclass
class Fault:
    service: str  # boto3 service name: "ssm", "stepfunctions", "sqs", ...
    operation: str  # API operation name: "StartAutomationExecution", "SendTaskSuccess"
    error_code: str
    status: int = 400  # HTTP status of the error response
    message: str = ""
    times: int | None = None  # fail this many calls, then stop; None: no count limit
    probability: float = 1.0  # chance that a matching call fails
    seed: int | None = 0
    body_contains: str | None = None  # only calls whose request body holds this text
    injected: int = 0  # calls failed so far
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        self._rng = random.Random(self.seed)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.injected >= self.times

    def _fires(self, body: str) -> bool:
        if self.exhausted:
            return False
        if self.body_contains is not None and self.body_contains not in body:
            return False
        if self.probability < 1.0 and self._rng.random() >= self.probability:
            return False
        self.injected += 1
        return True


class InjectedError(ServiceException):
    """The error of a fault (defined outside moto's packages, so moto looks up no model)."""


_faults: list[Fault] = []
_lock = threading.Lock()
_installed = False


def inject(
    service: str,
    operation: str,
    error_code: str = "ThrottlingException",
    *,
    status: int = 400,
    message: str | None = None,
    times: int | None = None,
    probability: float = 1.0,
    seed: int | None = 0,
    body_contains: str | None = None,
) -> Fault:
    """Fail ``service``'s ``operation`` with ``error_code`` and HTTP ``status``.

    ``times=N`` fails the next N matching calls; ``probability=p`` fails each matching call
    with chance p from an RNG seeded with ``seed`` (reproducible); with neither, every call
    fails until ``clear()``. Both together: random failures, at most N. ``body_contains``
    narrows the fault to requests whose body holds that text (one item's key, say).
    """
    fault = Fault(
        service=_ALIASES.get(service, service),
        operation=operation,
        error_code=error_code,
        status=status,
        message=message or f"Injected by the sandbox: {error_code}",
        times=times,
        probability=probability,
        seed=seed,
        body_contains=body_contains,
    )
    with _lock:
        _faults.append(fault)
    return fault


def remove(fault: Fault) -> None:
    with _lock:
        if fault in _faults:
            _faults.remove(fault)


def clear() -> None:
    with _lock:
        _faults.clear()


def active() -> list[Fault]:
    with _lock:
        return [fault for fault in _faults if not fault.exhausted]


def firing_fault(service_names: set[str], operation: str, body: str = "") -> Fault | None:
    """The fault that fails this call of ``operation`` (counted), or None; for the calls AWS
    services make themselves (SSM's publish, EventBridge's deliveries), which no request
    carries."""
    with _lock:
        for fault in _faults:
            if (
                fault.service in service_names
                and fault.operation == operation
                and fault._fires(body)
            ):
                return fault
    return None


def _error_response(response: BaseResponse, fault: Fault) -> Any:
    error = InjectedError(fault.error_code, fault.message)
    with warnings.catch_warnings():
        # An error code the service model does not declare (e.g. ThrottlingException) is fine.
        warnings.simplefilter("ignore")
        _, headers, body = response.serialized(ActionResult(error))
    headers, body = response._enrich_response(headers, body)
    headers["status"] = str(fault.status)
    return fault.status, headers, body


def _dispatch_with_faults(
    self: BaseResponse, request: Any, full_url: str | None = None, headers: Any = None
) -> Any:
    # Same as BaseResponse._dispatch, with a fault check between parsing and the action.
    self.setup_class(request, full_url, headers)
    if _faults:
        try:
            operation = self._get_action()
        except Exception:  # a request moto routes another way: never fault it
            operation = None
        if operation:
            names = {str(self.service_name), self.boto3_service_name}
            body = self.body if isinstance(self.body, str) else str(self.body or "")
            fault = firing_fault(names, operation, body)
            if fault is not None:
                return _error_response(self, fault)
    return self.call_action()


def install() -> None:
    """Hook moto's dispatch (idempotent)."""
    global _installed
    with _lock:
        if not _installed:
            BaseResponse._dispatch = _dispatch_with_faults  # type: ignore[method-assign]
            _installed = True
