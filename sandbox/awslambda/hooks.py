"""moto's Lambda, hooked so that invoking a function runs its zip (``sandbox.awslambda``).

- ``LambdaBackend.invoke`` (the Invoke API; EventBridge and SQS event sources go through it
  too) and ``LambdaFunction.invoke`` (moto's other internal callers) run the invoked version:
  ``RequestResponse`` waits for the result, ``Event`` queues it (202), ``DryRun`` only checks.
  The response carries ``X-Amz-Function-Error``, ``X-Amz-Executed-Version`` and, with
  ``LogType=Tail``, the last 4 KB of the log.
- The ``Qualifier`` query parameter of Invoke is honoured (moto 5.2.5 looks for
  ``qualifier`` and so always ran ``$LATEST``).
- Reserved concurrency is honoured: 0 throttles (``TooManyRequestsException``), N limits the
  function's concurrent workers.
- ``DeadLetterConfig`` is kept and returned (moto 5.2.5 drops it, so Terraform would see a
  difference on every plan) and used by asynchronous invocations.
- SNS delivers to a Lambda subscription asynchronously, as AWS does, and so does the old
  InvokeAsync API (moto invokes both inline).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.utilities.utils import ARN_PARTITION_REGEX

from sandbox.awslambda.asynchronous import invoke_async
from sandbox.awslambda.invoke import check_payload, invoke_sync
from sandbox.awslambda.models import FunctionSpec

_originals: dict[str, Any] = {}
_local = threading.local()
_installed = False
_install_lock = threading.Lock()


def header(headers: Any, name: str) -> str | None:
    """A request header, whatever the case of its name."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if str(key).lower() == lowered:
            return item
    return None


def _qualifier(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """(function name, qualifier) of a name, partial name or ARN with optional qualifier."""
    if re.match(ARN_PARTITION_REGEX, function_name):
        resource = function_name.split(":function:", 1)[-1]
        name, _, in_arn = resource.partition(":")
        return name, in_arn or qualifier
    if ":" in function_name:
        name, _, in_name = function_name.partition(":")
        return name, in_name or qualifier
    return function_name, qualifier


def invoked_arn(fn: LambdaFunction, function_name: str, qualifier: str | None) -> str:
    """The ARN the caller invoked (alias, version or unqualified), as context has it."""
    _, used = _qualifier(function_name, qualifier)
    base = FunctionSpec.of(fn).function_arn
    return f"{base}:{used}" if used else base


def _client_context(headers: Any) -> Any:
    encoded = header(headers, "X-Amz-Client-Context")
    if not encoded:
        return None
    try:
        return json.loads(base64.b64decode(encoded))
    except ValueError:
        return None


def handle_invoke(
    fn: LambdaFunction, arn: str, body: Any, headers: Any, response_headers: dict[str, Any]
) -> bytes:
    """Invoke ``fn`` as Lambda's Invoke API does; returns the response payload."""
    invocation_type = header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
    if getattr(_local, "asynchronous", False):
        invocation_type = "Event"
    if invocation_type == "DryRun":
        FunctionSpec.of(fn).check_runnable()
        return b""
    payload = check_payload(body)
    if invocation_type == "Event":
        invoke_async(fn, arn, payload)
        return b""
    outcome = invoke_sync(fn, arn, payload, client_context=_client_context(headers))
    response_headers["x-amz-executed-version"] = outcome.executed_version
    response_headers["x-amz-log-result"] = outcome.log_tail()
    if outcome.function_error:
        response_headers["x-amz-function-error"] = outcome.function_error
    return outcome.payload


def _backend_invoke(
    self: LambdaBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    payload = handle_invoke(
        fn, invoked_arn(fn, function_name, qualifier), body, headers, response_headers
    )
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _function_invoke(
    self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any
) -> bytes:
    if not isinstance(body, str | bytes):
        body = json.dumps(body)
    arn = FunctionSpec.of(self).function_arn
    if str(self.version) != "$LATEST":
        arn = f"{arn}:{self.version}"
    return handle_invoke(self, arn, body, request_headers or {}, response_headers)


def _response_invoke(self: LambdaResponse) -> Any:
    # moto 5.2.5 reads the query parameter as "qualifier"; boto3 and the CLI send "Qualifier".
    qualifier = self.querystring.get("Qualifier")
    if qualifier and "qualifier" not in self.querystring:
        self.querystring["qualifier"] = qualifier
    return _originals["response_invoke"](self)


def _response_invoke_async(self: LambdaResponse) -> Any:
    # The deprecated InvokeAsync API: moto runs it like a synchronous Invoke.
    _local.asynchronous = True
    try:
        return _originals["response_invoke_async"](self)
    finally:
        _local.asynchronous = False


def _send_sns_message(self: LambdaBackend, *args: Any, **kwargs: Any) -> None:
    _local.asynchronous = True
    try:
        _originals["send_sns_message"](self, *args, **kwargs)
    finally:
        _local.asynchronous = False


# --- DeadLetterConfig ---------------------------------------------------------------------


def _dead_letter(config: Any) -> dict[str, str] | None:
    if isinstance(config, dict) and config.get("TargetArn"):
        return {"TargetArn": config["TargetArn"]}
    return None


def _init(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kw: Any):
    _originals["__init__"](self, account_id, spec, *args, **kw)
    self.dead_letter_config = _dead_letter(spec.get("DeadLetterConfig"))


def _update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> Any:
    if "DeadLetterConfig" in config_updates:
        self.dead_letter_config = _dead_letter(config_updates["DeadLetterConfig"])
        self.code_or_config_updated = True
    return _originals["update_configuration"](self, config_updates)


def _get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
    config = _originals["get_configuration"](self, *args, **kwargs)
    dead_letter = getattr(self, "dead_letter_config", None)
    if dead_letter:
        config["DeadLetterConfig"] = dict(dead_letter)
    return config


def install() -> None:
    """Hook moto's Lambda (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _originals.update(
            {
                "backend_invoke": LambdaBackend.invoke,
                "function_invoke": LambdaFunction.invoke,
                "response_invoke": LambdaResponse.invoke,
                "response_invoke_async": LambdaResponse.invoke_async,
                "send_sns_message": LambdaBackend.send_sns_message,
                "__init__": LambdaFunction.__init__,
                "update_configuration": LambdaFunction.update_configuration,
                "get_configuration": LambdaFunction.get_configuration,
            }
        )
        LambdaBackend.invoke = _backend_invoke  # type: ignore[method-assign,assignment]
        LambdaFunction.invoke = _function_invoke  # type: ignore[method-assign,assignment]
        LambdaResponse.invoke = _response_invoke  # type: ignore[method-assign]
        LambdaResponse.invoke_async = _response_invoke_async  # type: ignore[method-assign]
        LambdaBackend.send_sns_message = _send_sns_message  # type: ignore[method-assign]
        LambdaFunction.__init__ = _init  # type: ignore[method-assign]
        LambdaFunction.update_configuration = _update_configuration  # type: ignore[method-assign]
        LambdaFunction.get_configuration = _get_configuration  # type: ignore[method-assign]
        _installed = True
