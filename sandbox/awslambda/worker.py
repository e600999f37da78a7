"""One execution environment of a function: a worker process that runs its zip, seen from
the sandbox.

The worker (``sandbox.awslambda.worker_process``, started in the extracted zip with the
function's environment and its execution role's credentials) imports the handler once, then
answers invocations over a pipe; its stdout and stderr are the function's log, with Lambda's
START / END / REPORT lines. Errors are Lambda's: ``FunctionError: Unhandled`` and
``{"errorMessage", "errorType", "stackTrace"}``; a timeout kills the worker
(``Sandbox.Timedout``, "Task timed out after N seconds"); a worker that dies reports
``Runtime.ExitError``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.awslambda import function_code
from sandbox.awslambda.logs import put_log
from sandbox.awslambda.models import FunctionSpec, Outcome
from sandbox.awslambda.roles import role_credentials
from sandbox.awslambda.settings import lambda_settings
from sandbox.awslambda.tracing import new_trace, send_function_segment, xray_daemon
from sandbox.awslambda.worker_process import END_MARKER
from sandbox.core.endpoint import endpoint


def _iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Worker:
    """One execution environment: a worker process (``sandbox.awslambda.worker_process``)."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        now = datetime.now(UTC)
        self.log_stream = f"{now:%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"
        self.process: subprocess.Popen[bytes] | None = None
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.init_ms: float | None = None  # reported on the first REPORT line only
        self.last_used = time.monotonic()
        self.dead = False
        self._collect: list[str] | None = None
        self._markers: dict[str, threading.Event] = {}
        self._log_lock = threading.Lock()
        self._control_in: Any = None
        self.endpoint = endpoint()  # a worker keeps the endpoint it was started with
        self.xray_daemon = xray_daemon()  # and its X-Ray daemon

    # logs
    def emit(self, message: str) -> None:
        put_log(self.spec, self.log_stream, message)
        with self._log_lock:
            if self._collect is not None:
                self._collect.append(message)

    def _read_stream(self, stream: Any, name: str) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if END_MARKER in line:
                before, _, request_id = line.partition(END_MARKER)
                if before:
                    self.emit(before)
                with self._log_lock:
                    marker = self._markers.get(f"{name}:{request_id.strip()}")
                if marker is not None:
                    marker.set()
                continue
            self.emit(line)
        stream.close()

    def _read_control(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            try:
                self.messages.put(json.loads(raw))
            except ValueError:
                continue
        stream.close()
        code = self.process.wait() if self.process else None
        self.messages.put({"type": "exit", "code": code})

    # lifecycle
    def start(self) -> dict[str, Any] | None:
        """Start the process and import the handler; the init error payload, if any."""
        spec = self.spec
        code_dir = function_code.code_dir(spec)
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        env = self._environment(code_dir)
        env["_SANDBOX_CONTROL_FDS"] = f"{child_read},{child_write}"
        env["_SANDBOX_PARENT_PID"] = str(os.getpid())
        python = function_code.interpreter(spec.runtime)
        self.emit(f"INIT_START Runtime Version: {spec.runtime} (sandbox: {python})")
        started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [python, "-S", "-m", function_code.WORKER_MODULE],
                cwd=code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(child_read, child_write),
                start_new_session=True,  # Ctrl-C reaches the sandbox, which stops its workers
            )
        except OSError:
            os.close(parent_read)
            os.close(parent_write)
            raise
        finally:
            os.close(child_read)
            os.close(child_write)
        self._control_in = os.fdopen(parent_write, "wb")
        control_out = os.fdopen(parent_read, "rb")
        for target, args in (
            (self._read_stream, (self.process.stdout, "stdout")),
            (self._read_stream, (self.process.stderr, "stderr")),
            (self._read_control, (control_out,)),
        ):
            threading.Thread(target=target, args=args, daemon=True).start()
        try:
            message = self.messages.get(timeout=lambda_settings.init_timeout)
        except queue.Empty:
            self.kill()
            return {
                "errorType": "Runtime.InitTimeout",
                "errorMessage": (
                    f"Init phase of {spec.function_name} did not end within "
                    f"{lambda_settings.init_timeout:.2f} seconds"
                ),
            }
        self.init_ms = message.get("init_ms", (time.monotonic() - started) * 1000)
        if message["type"] == "ready":
            return None
        if message["type"] == "init_error":
            return message["error"]
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"Runtime exited with error: {_exit_status(message.get('code'))}",
        }

    def _environment(self, code_dir: Path) -> dict[str, str]:
        spec = self.spec
        home = function_code.work_dir() / "home"
        home.mkdir(exist_ok=True)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "HOME": str(home),
            "PYTHONPATH": str(function_code.bootstrap_dir()),
            "PYTHONUNBUFFERED": "1",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        env.update(dict(spec.environment))
        env.update(
            {
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(function_code.runtime_dir()),
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_ENDPOINT_URL": self.endpoint,
                # No shared config or credentials files of the machine: only the role's keys.
                "AWS_CONFIG_FILE": str(home / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            }
        )
        if self.xray_daemon:
            env["AWS_XRAY_DAEMON_ADDRESS"] = self.xray_daemon
        else:  # no X-Ray daemon
            env |= {"POWERTOOLS_TRACE_DISABLED": "true", "AWS_XRAY_SDK_ENABLED": "false"}
        env.pop("AWS_PROFILE", None)
        env.update(role_credentials(spec))
        return env

    def alive(self) -> bool:
        return not self.dead and self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        self.dead = True
        process = self.process
        if process is None:
            return
        # A worker killed while it starts may not have its control pipe yet.
        if self._control_in is not None:
            with contextlib.suppress(OSError):
                self._control_in.close()
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    # invocations
    def invoke(
        self,
        invoked_arn: str,
        payload: str,
        request_id: str,
        client_context: Any,
        init_error: dict[str, Any] | None,
    ) -> Outcome:
        spec = self.spec
        with self._log_lock:
            self._collect = []
            self._markers = {
                f"stdout:{request_id}": threading.Event(),
                f"stderr:{request_id}": threading.Event(),
            }
        started = time.monotonic()
        started_at = time.time()
        init_ms, self.init_ms = self.init_ms, None
        self.emit(f"START RequestId: {request_id} Version: {spec.version}")
        max_memory = 0
        trace = new_trace(spec, self.xray_daemon)
        if init_error is not None:
            error, keep = init_error, False
        else:
            error, result, keep, max_memory = self._run(
                invoked_arn, payload, request_id, client_context, trace["header"]
            )
        if trace["sampled"]:
            send_function_segment(str(self.xray_daemon), spec, trace, started_at, request_id, error)
        if error is not None and error.get("errorType") != "Sandbox.Timedout":
            lines = [f"[ERROR] {error.get('errorType')}: {error.get('errorMessage')}"]
            lines.append("Traceback (most recent call last):")
            lines.extend(item.rstrip("\n") for item in error.get("stackTrace") or [])
            self.emit("\n".join(lines))
        duration = (time.monotonic() - started) * 1000
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {spec.memory_size} MB\t"
            f"Max Memory Used: {max_memory or '-'} MB"
        )
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        self.emit(f"END RequestId: {request_id}")
        self.emit(report)
        with self._log_lock:
            log, self._collect, self._markers = self._collect or [], None, {}
        self.last_used = time.monotonic()
        if not keep:
            self.kill()
        if error is not None:
            return Outcome(json.dumps(error).encode(), "Unhandled", spec.version, log)
        return Outcome(result.encode(), None, spec.version, log)

    def _run(
        self,
        invoked_arn: str,
        payload: str,
        request_id: str,
        client_context: Any,
        trace_header: str,
    ) -> tuple[dict[str, Any] | None, str, bool, int]:
        """(error, result, keep the worker, max memory MB) of one invocation."""
        spec = self.spec
        request = {
            "type": "invoke",
            "request_id": request_id,
            "invoked_function_arn": invoked_arn,
            "deadline_ms": int(time.time() * 1000) + spec.timeout * 1000,
            "payload": payload,
            "client_context": client_context,
            "trace_header": trace_header,
        }
        try:
            self._control_in.write(json.dumps(request).encode() + b"\n")
            self._control_in.flush()
        except (OSError, ValueError):
            pass  # the process is gone: its exit message says so
        deadline = time.monotonic() + spec.timeout
        while True:
            try:
                message = self.messages.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                self.kill()
                self.emit(
                    f"{_iso_now()} {request_id} Task timed out after {spec.timeout:.2f} seconds"
                )
                return (
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": (
                            f"RequestId: {request_id} Error: Task timed out after "
                            f"{spec.timeout:.2f} seconds"
                        ),
                    },
                    "",
                    False,
                    0,
                )
            if message["type"] == "result":
                break
            if message["type"] == "exit":
                self._wait_markers(0.2)
                error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": (
                        f"RequestId: {request_id} Error: Runtime exited with error: "
                        f"{_exit_status(message.get('code'))}"
                    ),
                }
                return error, "", False, 0
        self._wait_markers(2.0)
        memory = int(message.get("max_memory_mb") or 0)
        if "error" in message:
            return message["error"], "", True, memory
        return None, message["payload"], True, memory

    def _wait_markers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._log_lock:
            markers = list(self._markers.values())
        for marker in markers:
            marker.wait(max(deadline - time.monotonic(), 0))


def _exit_status(code: int | None) -> str:
    if code is None:
        return "unknown"
    if code < 0:
        return f"signal: {code * -1}"
    return f"exit status {code}"
