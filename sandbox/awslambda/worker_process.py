"""One execution environment of a Lambda function: runs its handler as AWS's Python runtime.

Started by ``sandbox.awslambda.worker`` as ``python -S -m sandbox.awslambda.worker_process``
in the function's extracted zip (the working directory, ``LAMBDA_TASK_ROOT``), with the
function's environment.

Standard library only: before the handler's module is imported, ``sys.path`` becomes the task
root, the packages the Lambda runtime provides (boto3, botocore and their dependencies, in
``LAMBDA_RUNTIME_DIR``) and the standard library, nothing else; so a package missing from the
zip fails to import as it would in Lambda.

Protocol, one JSON document per line on two pipes the parent passes (``_SANDBOX_CONTROL_FDS``):
the worker says ``{"type": "ready"}`` or ``{"type": "init_error", "error": {...}}`` once, then
answers every ``{"type": "invoke", ...}`` with ``{"type": "result", "payload": "<json>"}`` or
``{"type": "result", "error": {...}}``. stdout and stderr are the function's log; after each
invocation both get a marker line so the parent knows the invocation's log lines are complete.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any

END_MARKER = "\x1e\x1esandbox-end:"
_THIS_FILE = os.path.abspath(__file__)


class CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class ClientContext:
    def __init__(self, value: dict[str, Any]) -> None:
        self.client = value.get("client")
        self.custom = value.get("custom")
        self.env = value.get("env")


class LambdaContext:
    """The context object of AWS's Python runtime (awslambdaric's LambdaContext)."""

    def __init__(
        self,
        request_id: str,
        invoked_function_arn: str,
        deadline_ms: int,
        client_context: dict[str, Any] | None = None,
    ) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as in Lambda.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.identity = CognitoIdentity()
        self.client_context = ClientContext(client_context) if client_context else None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(str(message))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


_request_filter = _RequestIdFilter()


def _isolate(task_root: str, runtime_dir: str) -> None:
    """Only what Lambda's runtime offers is importable: task root, runtime packages, stdlib."""
    base = os.path.realpath(sys.base_prefix)
    stdlib = [
        path
        for path in sys.path
        if path and os.path.realpath(path).startswith(base + os.sep) and "site-packages" not in path
    ]
    sys.path[:] = [task_root, runtime_dir, *stdlib]
    for name in [name for name in sys.modules if name == "sandbox" or name.startswith("sandbox.")]:
        del sys.modules[name]
    os.environ["PYTHONPATH"] = runtime_dir


def _configure_root_logger() -> None:
    """As Lambda's runtime: records of the root logger (level WARNING) go to the log."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(_request_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def _stack_trace(tb: Any) -> list[str]:
    frames = [frame for frame in traceback.extract_tb(tb) if frame.filename != _THIS_FILE]
    return traceback.format_list(frames)


def _error(exc: BaseException, request_id: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"errorMessage": str(exc), "errorType": type(exc).__name__}
    if request_id:
        error["requestId"] = request_id
    error["stackTrace"] = _stack_trace(exc.__traceback__)
    return error


def _fault(error_type: str, message: str, trace: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": trace or []}


def _load_handler(handler: str) -> tuple[Any, dict[str, Any] | None]:
    """The handler function, or the error Lambda's runtime reports (awslambdaric's rules)."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        return None, _fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, _fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        return None, _fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        )
    except Exception as exc:
        return None, _error(exc)
    function = getattr(module, function_name, None)
    if function is None:
        return None, _fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return function, None


def _decimal(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _end_invocation_logs(request_id: str) -> None:
    """A marker line on stdout and stderr: the parent has all of this invocation's lines."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    marker = f"{END_MARKER}{request_id}\n".encode()
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.write(fd, marker)


def _watch_parent(parent_pid: int) -> None:
    """Exit when the sandbox that started this worker is gone."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _peak_memory_mb(resource: Any) -> int:
    """Peak resident memory of this process (VmHWM; ru_maxrss would count the parent's)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def main() -> None:
    control_in_fd, control_out_fd = (
        int(fd) for fd in os.environ.pop("_SANDBOX_CONTROL_FDS").split(",")
    )
    parent_pid = int(os.environ.pop("_SANDBOX_PARENT_PID"))
    for fd in (control_in_fd, control_out_fd):
        os.set_inheritable(fd, False)  # not for the function's own subprocesses
    control_in = os.fdopen(control_in_fd, "rb")
    control_out = os.fdopen(control_out_fd, "wb")

    def send(message: dict[str, Any]) -> None:
        control_out.write(json.dumps(message).encode() + b"\n")
        control_out.flush()

    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    _isolate(os.environ["LAMBDA_TASK_ROOT"], os.environ["LAMBDA_RUNTIME_DIR"])
    _configure_root_logger()

    started = time.monotonic()
    handler, init_error = _load_handler(os.environ.get("_HANDLER") or "")
    init_ms = (time.monotonic() - started) * 1000
    _end_invocation_logs("init")
    if init_error is not None:
        send({"type": "init_error", "error": init_error, "init_ms": init_ms})
        return
    send({"type": "ready", "init_ms": init_ms})

    import resource

    for line in control_in:
        request = json.loads(line)
        request_id = request["request_id"]
        _request_filter.request_id = request_id
        # Lambda's trace header: Sampled=1 when the sandbox traces the function (X-Ray).
        os.environ["_X_AMZN_TRACE_ID"] = request["trace_header"]
        context = LambdaContext(
            request_id,
            request["invoked_function_arn"],
            request["deadline_ms"],
            request.get("client_context"),
        )
        reply: dict[str, Any] = {"type": "result"}
        try:
            event = json.loads(request["payload"])
            result = handler(event, context)
        except Exception as exc:
            reply["error"] = _error(exc, request_id)
        else:
            try:
                reply["payload"] = json.dumps(result, default=_decimal)
            except (TypeError, ValueError, OverflowError) as exc:
                reply["error"] = _fault(
                    "Runtime.MarshalError", f"Unable to marshal response: {exc}"
                ) | {"requestId": request_id}
        reply["max_memory_mb"] = _peak_memory_mb(resource)
        _end_invocation_logs(request_id)
        send(reply)


if __name__ == "__main__":
    main()
