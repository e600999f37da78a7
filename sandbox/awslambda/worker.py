"""Lambda's execution environments for moto: invoking a function runs its real zip.

moto 5.2.5 runs function code only in docker. Here every function version gets warm worker
processes (``sandbox.lambda_worker``) that run the uploaded zip, extracted once per code
sha256, with the function's handler, environment, timeout and memory size:

- ``sys.path`` is the zip, then only what Lambda's Python runtime provides (boto3, botocore and
  their dependencies, symlinked from this interpreter's site-packages into one folder): a
  package the zip lacks fails with ``Runtime.ImportModuleError``, as in Lambda.
- boto3 in the function talks to the sandbox (``AWS_ENDPOINT_URL``) with credentials of its
  execution role (moto STS ``AssumeRole``, session name = function name, as Lambda does).
- stdout and stderr become the function's CloudWatch log (``/aws/lambda/<name>``, one stream
  per worker) with Lambda's START / END / REPORT lines.
- Errors are Lambda's: ``FunctionError: Unhandled`` and ``{"errorMessage", "errorType",
  "stackTrace"}``; a timeout kills the worker (``Sandbox.Timedout``, "Task timed out after
  N seconds"); a worker that dies is replaced (``Runtime.ExitError``).
- Asynchronous invocations run on a background thread with Lambda's retries (2, or the
  function's event invoke config), then go to the dead-letter queue and the on-failure
  destination; on success to the on-success destination.
- X-Ray: off (no daemon), unless ``lambda_settings.capture_traces`` (the sandbox's own daemon,
  ``sandbox.xray``) or ``xray_daemon_address`` is set: then a function with Active tracing
  runs sampled, as in Lambda, and its segments reach that daemon.

Delays AWS counts in minutes are scaled down (``lambda_settings``), so tests stay fast.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import math
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.logs.exceptions import ResourceNotFoundException as LogsResourceNotFound
from moto.logs.models import logs_backends
from moto.utilities.utils import get_partition

from sandbox.clock import clock

_log = logging.getLogger(__name__)

END_MARKER = "\x1e\x1esandbox-end:"
LOG_TAIL_BYTES = 4096
# What the Lambda Python runtime itself provides: these and their dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3",)


@dataclass
class LambdaSettings:
    # Lambda retries a failed asynchronous invocation twice, after about 1 and 2 minutes;
    # the sandbox waits these many seconds instead.
    async_retry_delays: tuple[float, ...] = (1.0, 2.0)
    # Wait between attempts of an asynchronous invocation the function's reserved
    # concurrency throttles (Lambda keeps trying for up to 6 hours / MaximumEventAgeInSeconds).
    async_throttle_delay: float = 1.0
    # EventBridge retries a failed delivery with exponential backoff from this delay...
    eventbridge_retry_delay: float = 1.0
    # ... up to this one (AWS does not document its schedule).
    eventbridge_max_retry_delay: float = 30.0
    # Lambda's limit for the init phase (importing the handler's module).
    init_timeout: float = 10.0
    # Workers of one function version at once (without reserved concurrency).
    max_workers_per_version: int = 10
    # A worker unused this long is stopped (Lambda recycles idle environments too).
    idle_worker_seconds: float = 900.0
    # Run a function on the Python of its runtime (python3.12: a ``python3.12`` on PATH)
    # when there is one, else on the sandbox's own interpreter.
    match_runtime_python: bool = True
    # X-Ray. Off by default: tracing disabled in the functions (POWERTOOLS_TRACE_DISABLED,
    # AWS_XRAY_SDK_ENABLED=false), unsampled trace headers. With a daemon (the sandbox's own
    # when capture_traces, else "host:port" of yours), workers get AWS_XRAY_DAEMON_ADDRESS and
    # their function's own tracing settings, and a function whose TracingConfig is Active
    # runs sampled (Sampled=1) under a function segment the sandbox sends, as Lambda does.
    # A change applies from the next invocation on (idle workers are replaced).
    capture_traces: bool = False
    xray_daemon_address: str | None = None

    def reset(self) -> None:
        for item in fields(self):
            setattr(self, item.name, item.default)


lambda_settings = LambdaSettings()


class TooManyRequestsException(JsonRESTError):
    code = 429

    def __init__(self, message: str, reason: str) -> None:
        super().__init__("TooManyRequestsException", message)
        self.description = json.dumps(
            {"__type": "TooManyRequestsException", "message": message, "Reason": reason}
        )


class InvalidRequestContentException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


class SandboxUnsupported(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)


# --- what a worker needs to know about a function version ---------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    account_id: str
    region: str
    function_name: str
    version: str
    function_arn: str  # unqualified
    handler: str
    runtime: str
    role: str
    timeout: int
    memory_size: int
    environment: tuple[tuple[str, str], ...]
    code_sha256: str
    package_type: str
    tracing_mode: str  # "Active" or "PassThrough"
    identity: int  # the moto function object: a re-created function gets new workers
    code: bytes = field(compare=False, repr=False)

    @classmethod
    def of(cls, fn: Any) -> FunctionSpec:
        return cls(
            account_id=fn.account_id,
            region=fn.region,
            function_name=fn.function_name,
            version=str(fn.version),
            function_arn=(
                f"arn:{get_partition(fn.region)}:lambda:{fn.region}:{fn.account_id}"
                f":function:{fn.function_name}"
            ),
            handler=fn.handler or "",
            runtime=fn.run_time or "",
            role=fn.role,
            timeout=int(fn.timeout or 3),
            memory_size=int(fn.memory_size or 128),
            environment=tuple(sorted((fn.environment_vars or {}).items())),
            code_sha256=getattr(fn, "code_sha_256", "") or "",
            package_type=fn.package_type or "Zip",
            tracing_mode=(getattr(fn, "tracing_config", None) or {}).get("Mode", "PassThrough"),
            identity=id(fn),
            code=getattr(fn, "code_bytes", b"") or b"",
        )

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.account_id, self.region, self.function_name, self.version)

    @property
    def version_arn(self) -> str:
        return f"{self.function_arn}:{self.version}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def check_runnable(self) -> None:
        if self.package_type != "Zip":
            raise SandboxUnsupported(
                f"The sandbox runs .zip functions only; {self.function_name} is a container image."
            )
        if not self.runtime.startswith("python"):
            raise SandboxUnsupported(
                f"The sandbox runs Python functions only; {self.function_name} has runtime "
                f"{self.runtime or 'none'}."
            )
        if not self.code:
            raise SandboxUnsupported(f"Function {self.function_name} has no code to run.")


@dataclass
class Outcome:
    """What an invocation returns, as Lambda's Invoke response has it."""

    payload: bytes
    function_error: str | None  # "Unhandled" or None
    executed_version: str
    log: list[str] = field(default_factory=list)

    @property
    def error(self) -> dict[str, Any] | None:
        if self.function_error is None:
            return None
        try:
            return json.loads(self.payload)
        except ValueError:
            return {"errorMessage": self.payload.decode(errors="replace")}

    def log_tail(self) -> str:
        text = "\n".join(self.log).encode()[-LOG_TAIL_BYTES:]
        return base64.b64encode(text).decode()


# --- process-wide state -------------------------------------------------------------------

_lock = threading.RLock()
_base_dir: Path | None = None
_runtime_dir: Path | None = None
_endpoint: str | None = None
_bridge: Any = None  # a ThreadedMotoServer when none was set (in-process use, mock_aws)
_pools: dict[tuple[str, str, str, str], _Pool] = {}
_stopping = threading.Event()
_threads: set[threading.Thread] = set()


_servers: list[str] = []  # endpoints of the ThreadedMotoServers running in this process


def set_endpoint(url: str | None) -> None:
    """The sandbox's HTTP endpoint the functions' boto3 uses (LocalAws sets it)."""
    global _endpoint
    with _lock:
        _endpoint = url.rstrip("/") if url else None


def server_endpoint() -> str | None:
    """The endpoint set by LocalAws, else the latest moto server started in this process."""
    with _lock:
        return _endpoint or (_servers[-1] if _servers else None)


def endpoint() -> str:
    """The endpoint for functions; in-process (mock_aws) a bridge server on 127.0.0.1."""
    global _bridge
    with _lock:
        found = server_endpoint()
        if found:
            return found
        if _bridge is None:
            from sandbox.server import moto_server

            quiet_request_log()
            server = moto_server()
            server.start()
            _bridge = server
        host, port = _bridge.get_host_and_port()
        return f"http://{host}:{port}"


def quiet_request_log() -> None:
    """No line per HTTP request from werkzeug (moto's server) unless logging asks for them."""
    werkzeug = logging.getLogger("werkzeug")
    if werkzeug.level == logging.NOTSET:
        werkzeug.setLevel(logging.WARNING)


def xray_daemon() -> str | None:
    """The X-Ray daemon the functions send to (lambda_settings), or None: tracing off."""
    if lambda_settings.xray_daemon_address:
        return str(lambda_settings.xray_daemon_address)
    if lambda_settings.capture_traces:
        from sandbox import xray

        return xray.start()
    return None


def _work_dir() -> Path:
    global _base_dir
    with _lock:
        if _base_dir is None:
            _base_dir = Path(tempfile.mkdtemp(prefix="sandbox-lambda-"))
        return _base_dir


def _bootstrap_dir() -> Path:
    """A folder with only ``sandbox/lambda_worker.py``, so ``-m sandbox.lambda_worker`` runs
    the worker without importing the sandbox (and moto) into the function's process."""
    folder = _work_dir() / "bootstrap"
    package = folder / "sandbox"
    if not (package / "lambda_worker.py").exists():
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("")
        shutil.copyfile(Path(__file__).with_name("lambda_worker.py"), package / "lambda_worker.py")
    return folder


def _requirement_names(distribution: importlib.metadata.Distribution) -> Iterator[str]:
    for requirement in distribution.requires or []:
        if "extra ==" in requirement.replace('"', "'").replace("extra=='", "extra == '"):
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if match:
            yield match.group(0)


def runtime_dir() -> Path:
    """Lambda's runtime packages: boto3, botocore and their dependencies, symlinked."""
    global _runtime_dir
    with _lock:
        if _runtime_dir is not None and _runtime_dir.exists():
            return _runtime_dir
        folder = _work_dir() / "runtime"
        folder.mkdir(parents=True, exist_ok=True)
        pending, seen = list(RUNTIME_DISTRIBUTIONS), set()
        while pending:
            name = pending.pop()
            key = name.lower().replace("_", "-")
            if key in seen:
                continue
            seen.add(key)
            try:
                distribution = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:
                continue
            pending.extend(_requirement_names(distribution))
            site = Path(str(distribution.locate_file("")))
            tops = {Path(str(item)).parts[0] for item in distribution.files or []}
            for top in tops:
                source = site / top
                if top in ("..", "__pycache__", "bin") or not source.exists():
                    continue
                target = folder / top
                if not target.exists():
                    target.symlink_to(source, target_is_directory=source.is_dir())
        _runtime_dir = folder
        return folder


_interpreters: dict[str, str] = {}


def interpreter(runtime: str) -> str:
    """The Python that runs a function of ``runtime``: its own version if installed."""
    match = re.fullmatch(r"python(3\.\d+)", runtime)
    if not lambda_settings.match_runtime_python or match is None:
        return sys.executable
    version = match.group(1)
    with _lock:
        if version not in _interpreters:
            _interpreters[version] = sys.executable
            candidate = shutil.which(f"python{version}")
            if candidate and f"{sys.version_info.major}.{sys.version_info.minor}" != version:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    answer = subprocess.run(  # a pyenv shim may exist without the version
                        [
                            candidate,
                            "-S",
                            "-c",
                            "import sys; print('%d.%d' % sys.version_info[:2])",
                        ],
                        capture_output=True,
                        text=True,
                        timeout=10,
                        check=False,
                    )
                    if answer.returncode == 0 and answer.stdout.strip() == version:
                        _interpreters[version] = candidate
        return _interpreters[version]


def _code_dir(spec: FunctionSpec) -> Path:
    """The function's zip, extracted once per code sha256."""
    digest = spec.code_sha256 or hashlib.sha256(spec.code).hexdigest()
    digest = re.sub(r"[^A-Za-z0-9_-]", "_", digest)
    target = _work_dir() / "code" / digest
    with _lock:
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=_work_dir()))
        try:
            with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
                archive.extractall(staging)
        except zipfile.BadZipFile as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise SandboxUnsupported(
                f"Could not unzip the code of {spec.function_name}: {exc}"
            ) from exc
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(target)
        return target


def _role_credentials(spec: FunctionSpec) -> dict[str, str]:
    """Credentials of the function's execution role, as Lambda assumes it (its trust policy
    must allow lambda.amazonaws.com); keys no one knows when it cannot be assumed, so every
    call of the function is refused, as in AWS."""
    from sandbox import iam

    try:
        credentials = iam.session_credentials(
            spec.role, "lambda.amazonaws.com", region=spec.region, session_name=spec.function_name
        )
    except Exception:  # a role moto does not know
        _log.warning("the execution role %s of %s cannot be assumed", spec.role, spec.function_name)
        credentials = None
    return credentials or {
        "AWS_ACCESS_KEY_ID": "ASIAUNASSUMABLEROLE0",
        "AWS_SECRET_ACCESS_KEY": "unassumable",
        "AWS_SESSION_TOKEN": "unassumable",
    }


def _iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


# --- CloudWatch Logs ----------------------------------------------------------------------

_logs_lock = threading.Lock()


def _may_log(spec: FunctionSpec, stream: str) -> bool:
    """Lambda writes a function's logs with its execution role: without logs:PutLogEvents on
    the stream they are lost (docs/aws-behaviour.md#lambda-execution-role-logs)."""
    from sandbox import iam

    arn = (
        f"arn:{get_partition(spec.region)}:logs:{spec.region}:{spec.account_id}:log-group:"
        f"{spec.log_group}:log-stream:{stream}"
    )
    try:
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            iam.authorize(execution_role(spec), action, arn, region=spec.region)
    except iam.AccessDenied as denied:
        _log.debug("log of %s lost: %s", spec.function_name, denied.message)
        return False
    return True


def _put_log(spec: FunctionSpec, stream: str, message: str) -> None:
    """One log event in the function's log group (created, as Lambda does, if missing)."""
    event = {"timestamp": int(time.time() * 1000), "message": message}
    if not _may_log(spec, stream):
        return
    with _logs_lock:
        try:
            backend = logs_backends[spec.account_id][spec.region]
            try:
                backend.put_log_events(spec.log_group, stream, [event])
            except LogsResourceNotFound:
                backend.ensure_log_group(spec.log_group)
                backend.ensure_log_stream(spec.log_group, stream)
                backend.put_log_events(spec.log_group, stream, [event])
        except Exception:  # logging must never break an invocation
            _log.exception("could not write the log of %s", spec.function_name)


# --- workers ------------------------------------------------------------------------------


class _Worker:
    """One execution environment: a ``sandbox.lambda_worker`` process."""

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
        _put_log(self.spec, self.log_stream, message)
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
        code_dir = _code_dir(spec)
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        env = self._environment(code_dir)
        env["_SANDBOX_CONTROL_FDS"] = f"{child_read},{child_write}"
        env["_SANDBOX_PARENT_PID"] = str(os.getpid())
        python = interpreter(spec.runtime)
        self.emit(f"INIT_START Runtime Version: {spec.runtime} (sandbox: {python})")
        started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [python, "-S", "-m", "sandbox.lambda_worker"],
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
        home = _work_dir() / "home"
        home.mkdir(exist_ok=True)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "HOME": str(home),
            "PYTHONPATH": str(_bootstrap_dir()),
            "PYTHONUNBUFFERED": "1",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        env.update(dict(spec.environment))
        env.update(
            {
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(runtime_dir()),
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
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
        env.update(_role_credentials(spec))
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
        trace = self._trace()
        if init_error is not None:
            error, keep = init_error, False
        else:
            error, result, keep, max_memory = self._run(
                invoked_arn, payload, request_id, client_context, trace["header"]
            )
        if trace["sampled"]:
            self._send_function_segment(trace, started_at, request_id, error)
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

    def _trace(self) -> dict[str, Any]:
        """The invocation's trace: sampled for Active tracing with a daemon (Lambda's header)."""
        from sandbox import xray

        spec = self.spec
        sampled = bool(self.xray_daemon) and spec.tracing_mode == "Active"
        if sampled:
            trace_id, parent = xray.new_trace(spec.account_id, spec.region, spec.role)
        else:
            trace_id = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
            parent = uuid.uuid4().hex[:16]
        header = f"Root={trace_id};Parent={parent};Sampled={int(sampled)}"
        if not sampled:
            header += ";Lineage=sandbox"
        return {"trace_id": trace_id, "id": parent, "sampled": sampled, "header": header}

    def _send_function_segment(
        self,
        trace: dict[str, Any],
        started_at: float,
        request_id: str,
        error: dict[str, Any] | None,
    ) -> None:
        """The AWS::Lambda::Function segment, parent of the function's own subsegments."""
        from sandbox import xray

        spec = self.spec
        segment: dict[str, Any] = {
            "id": trace["id"],
            "trace_id": trace["trace_id"],
            "name": spec.function_name,
            "origin": "AWS::Lambda::Function",
            "start_time": started_at,
            "end_time": time.time(),
            "aws": {
                "account_id": spec.account_id,
                "function_arn": spec.version_arn,
                "resource_names": [spec.function_name],
                "request_id": request_id,
            },
        }
        if error is not None:
            segment["fault"] = True
        xray.send(str(self.xray_daemon), segment)

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


class _Pool:
    """The warm workers of one function version."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.closed = False
        self.condition = threading.Condition()

    def acquire(self, limit: int, throttle: bool) -> _Worker | None:
        """An idle worker, or a new (unstarted) one; None if throttled."""
        with self.condition:
            while True:
                current = endpoint()
                daemon = xray_daemon()
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive() and (worker.endpoint, worker.xray_daemon) == (
                        current,
                        daemon,
                    ):
                        self.busy.add(worker)
                        return worker
                    worker.kill()  # dead, its sandbox server has gone, or X-Ray changed
                if len(self.busy) < limit:
                    worker = _Worker(self.spec)
                    self.busy.add(worker)
                    return worker
                if throttle:
                    return None
                self.condition.wait(0.5)
                if _stopping.is_set():
                    return None

    def release(self, worker: _Worker) -> None:
        with self.condition:
            self.busy.discard(worker)
            if worker.alive() and not self.closed:
                self.idle.append(worker)
            else:
                worker.kill()
            self.condition.notify()

    def close(self) -> None:
        with self.condition:
            self.closed = True
            idle, self.idle = self.idle, []
            busy = list(self.busy)
        for worker in idle + busy:
            worker.kill()

    def reap(self, older_than: float) -> None:
        with self.condition:
            stale = [worker for worker in self.idle if worker.last_used < older_than]
            self.idle = [worker for worker in self.idle if worker not in stale]
        for worker in stale:
            worker.kill()


def _pool_for(spec: FunctionSpec) -> _Pool:
    with _lock:
        pool = _pools.get(spec.key)
        if pool is not None and pool.spec != spec:
            pool.close()  # new code or configuration: new execution environments
            pool = None
        if pool is None:
            pool = _pools[spec.key] = _Pool(spec)
        older_than = time.monotonic() - lambda_settings.idle_worker_seconds
        pools = list(_pools.values())
    for item in pools:
        item.reap(older_than)
    return pool


def workers() -> list[dict[str, Any]]:
    """The running workers (function, version, pid), for tests and diagnostics."""
    with _lock:
        pools = list(_pools.values())
    found = []
    for pool in pools:
        with pool.condition:
            members = list(pool.idle) + list(pool.busy)
        for worker in members:
            if worker.alive() and worker.process is not None:
                found.append(
                    {
                        "function_name": pool.spec.function_name,
                        "version": pool.spec.version,
                        "pid": worker.process.pid,
                        "log_stream": worker.log_stream,
                    }
                )
    return found


# --- invoking -----------------------------------------------------------------------------


def _concurrency_limit(fn: Any) -> int | None:
    """The function's reserved concurrency (set on $LATEST), or None."""
    from moto.awslambda.utils import get_backend

    try:
        latest = get_backend(fn.account_id, fn.region).get_function(fn.function_name)
        reserved = latest.reserved_concurrency
    except Exception:
        reserved = getattr(fn, "reserved_concurrency", None)
    return None if reserved in (None, "") else int(reserved)


def invoke_sync(
    fn: Any,
    invoked_arn: str,
    payload: str,
    *,
    request_id: str | None = None,
    client_context: Any = None,
    throttle: bool = True,
) -> Outcome:
    """Run one invocation of ``fn`` (a moto LambdaFunction of the invoked version)."""
    spec = FunctionSpec.of(fn)
    spec.check_runnable()
    reserved = _concurrency_limit(fn)
    if reserved == 0:
        raise TooManyRequestsException(
            "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
    limit = reserved if reserved is not None else lambda_settings.max_workers_per_version
    pool = _pool_for(spec)
    worker = pool.acquire(limit, throttle=throttle and reserved is not None)
    if worker is None:
        raise TooManyRequestsException(
            "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
    try:
        init_error = worker.start() if worker.process is None else None
        return worker.invoke(
            invoked_arn, payload, request_id or str(uuid.uuid4()), client_context, init_error
        )
    finally:
        pool.release(worker)


def check_payload(body: str | bytes | None) -> str:
    """The event as JSON text (``{}`` when empty); Lambda refuses what is not JSON."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        return "{}"
    try:
        json.loads(body)
    except ValueError as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: {exc}"
        ) from exc
    return body


# --- asynchronous invocations -------------------------------------------------------------


def spawn(target: Callable[..., None], *args: Any, name: str = "sandbox") -> threading.Thread:
    """A background thread that reset()/shutdown() stop waiting for."""

    def run() -> None:
        try:
            target(*args)
        except Exception:
            _log.exception("sandbox background task %s failed", name)
        finally:
            with _lock:
                _threads.discard(threading.current_thread())

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _lock:
        _threads.add(thread)
    thread.start()
    return thread


def sleep(seconds: float) -> bool:
    """Wait; False if the sandbox is stopping (the caller then gives up)."""
    return not _stopping.wait(max(seconds, 0))


def stopping() -> bool:
    return _stopping.is_set()


def _event_invoke_config(fn: Any) -> dict[str, Any]:
    from moto.awslambda.utils import get_backend

    configs = list(getattr(fn, "event_invoke_config", []) or [])
    if not configs:
        with contextlib.suppress(Exception):
            latest = get_backend(fn.account_id, fn.region).get_function(fn.function_name)
            configs = list(latest.event_invoke_config or [])
    return dict(configs[0].config) if configs else {}


def invoke_async(fn: Any, invoked_arn: str, payload: str) -> str:
    """Accept an asynchronous invocation (Lambda's queue); returns its request id."""
    spec = FunctionSpec.of(fn)
    spec.check_runnable()
    request_id = str(uuid.uuid4())
    config = _event_invoke_config(fn)
    job = _AsyncInvocation(
        fn=fn,
        invoked_arn=invoked_arn,
        payload=payload,
        request_id=request_id,
        max_retries=int(config.get("MaximumRetryAttempts", 2)),
        max_age=float(config.get("MaximumEventAgeInSeconds", 21600)),
        destinations=config.get("DestinationConfig") or {},
        dead_letter_arn=((getattr(fn, "dead_letter_config", None) or {}).get("TargetArn") or None),
    )
    spawn(job.run, name=f"lambda-async-{spec.function_name}")
    return request_id


@dataclass
class _AsyncInvocation:
    fn: Any
    invoked_arn: str
    payload: str
    request_id: str
    max_retries: int
    max_age: float
    destinations: dict[str, Any]
    dead_letter_arn: str | None
    accepted_at: datetime = field(default_factory=clock.now)

    def _age(self) -> float:
        return (clock.now() - self.accepted_at).total_seconds()

    def run(self) -> None:
        attempts = 0
        outcome: Outcome | None = None
        while not stopping():
            try:
                outcome = invoke_sync(
                    self.fn, self.invoked_arn, self.payload, request_id=self.request_id
                )
            except TooManyRequestsException:
                # Throttled (reserved concurrency): Lambda keeps the event and tries again.
                if stopping():
                    return None
                if self._age() >= self.max_age:
                    return self._failed(outcome, attempts, "EventAgeExceeded")
                if not sleep(lambda_settings.async_throttle_delay):
                    return None
                continue
            if stopping():  # the sandbox stopped the worker: no verdict on the event
                return None
            attempts += 1
            if outcome.function_error is None:
                return self._succeeded(outcome, attempts)
            if attempts > self.max_retries:
                return self._failed(outcome, attempts, "RetriesExhausted")
            delays = lambda_settings.async_retry_delays or (0.0,)
            delay = delays[min(attempts - 1, len(delays) - 1)]
            if not sleep(delay):
                return None
            if self._age() >= self.max_age:
                return self._failed(outcome, attempts, "EventAgeExceeded")
        return None

    def _record(self, outcome: Outcome | None, attempts: int, condition: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "requestContext": {
                "requestId": self.request_id,
                "functionArn": self.invoked_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": json.loads(self.payload),
            "responseContext": {
                "statusCode": 200,
                "executedVersion": str(self.fn.version),
            },
        }
        if outcome is not None:
            if outcome.function_error:
                record["responseContext"]["functionError"] = outcome.function_error
            try:
                record["responsePayload"] = json.loads(outcome.payload or b"null")
            except ValueError:
                record["responsePayload"] = outcome.payload.decode(errors="replace")
        return record

    def _succeeded(self, outcome: Outcome, attempts: int) -> None:
        target = (self.destinations.get("OnSuccess") or {}).get("Destination")
        if target:
            send_to_destination(
                self.fn, target, self._record(outcome, attempts, "Success"), "Success"
            )

    def _failed(self, outcome: Outcome | None, attempts: int, condition: str) -> None:
        if self.dead_letter_arn:
            error = (outcome.error if outcome else None) or {}
            attributes = {
                "RequestID": self.request_id,
                "ErrorCode": "200",
                "ErrorMessage": str(error.get("errorMessage", condition))[:1024],
            }
            send_message(
                self.fn.account_id,
                self.dead_letter_arn,
                self.payload,
                attributes,
                sender=execution_role(self.fn),
            )
        target = (self.destinations.get("OnFailure") or {}).get("Destination")
        if target:
            send_to_destination(
                self.fn, target, self._record(outcome, attempts, condition), "Failure"
            )


def send_message(
    account_id: str,
    target_arn: str,
    body: str,
    attributes: dict[str, str] | None = None,
    *,
    sender: Any = None,
    source_arn: str | None = None,
) -> None:
    """A message to an SQS queue or SNS topic ARN (dead-letter queues, destinations), sent
    as ``sender`` (an ``iam`` Caller: the function's role, or EventBridge for ``source_arn``);
    one IAM refuses is lost, as in AWS."""
    from sandbox import iam

    parts = target_arn.split(":")
    service, region, account = parts[2], parts[3], parts[4] or account_id
    if sender is not None:
        try:
            iam.authorize_send(sender, target_arn, region=region, source_arn=source_arn)
        except iam.AccessDenied as denied:
            _log.warning("message to %s lost: %s", target_arn, denied.message)
            return
    try:
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            sqs_backends[account][region].send_message(
                queue_name=parts[5],
                message_body=body,
                message_attributes={
                    name: {
                        "DataType": "Number" if value.isdigit() else "String",
                        "StringValue": value,
                    }
                    for name, value in (attributes or {}).items()
                },
            )
        elif service == "sns":
            from moto.sns.models import sns_backends

            sns_backends[account][region].publish(
                message=body,
                arn=target_arn,
                message_attributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in (attributes or {}).items()
                },
            )
        else:
            _log.warning("the sandbox cannot send to %s", target_arn)
    except Exception:
        _log.exception("could not send to %s", target_arn)


def execution_role(fn: Any) -> Any:
    """The execution role session of a function (moto's, or its FunctionSpec): what Lambda
    acts as for its logs, dead-letter queue and destinations."""
    from sandbox import iam

    return iam.role_session(fn.role, fn.function_name[:64])


def send_to_destination(fn: Any, target_arn: str, record: dict[str, Any], outcome: str) -> None:
    """An invocation record to an asynchronous invocation destination."""
    service = target_arn.split(":")[2]
    body = json.dumps(record)
    if service in ("sqs", "sns"):
        send_message(fn.account_id, target_arn, body, sender=execution_role(fn))
    elif service == "lambda":
        from moto.awslambda.utils import get_backend

        try:
            parts = target_arn.split(":")
            target = get_backend(parts[4], parts[3]).get_function(target_arn)
            invoke_async(target, target_arn, body)
        except Exception:
            _log.exception("could not invoke destination %s", target_arn)
    elif service == "events":
        from moto.events.models import events_backends

        parts = target_arn.split(":")
        with contextlib.suppress(Exception):
            events_backends[parts[4]][parts[3]].put_events(
                [
                    {
                        "Source": "lambda",
                        "DetailType": f"Lambda Function Invocation Result - {outcome}",
                        "Detail": body,
                        "Resources": [fn.function_arn],
                        "EventBusName": target_arn,
                    }
                ]
            )


# --- lifecycle ----------------------------------------------------------------------------

_server_originals: dict[str, Any] = {}


def install() -> None:
    """Note the endpoint of every ThreadedMotoServer this process starts (idempotent):
    functions and Step Functions' service integrations call the sandbox through it."""
    from moto.server import ThreadedMotoServer

    from sandbox import xray

    xray.install()  # GET/DELETE /moto-api/sandbox/xray/segments
    with _lock:
        if _server_originals:
            return
        _server_originals["start"] = ThreadedMotoServer.start
        _server_originals["stop"] = ThreadedMotoServer.stop

    def start(self: Any) -> None:
        _server_originals["start"](self)
        host, port = self.get_host_and_port()
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        self._sandbox_endpoint = f"http://{host}:{port}"
        with _lock:
            _servers.append(self._sandbox_endpoint)

    def stop(self: Any) -> None:
        url = getattr(self, "_sandbox_endpoint", None)
        with _lock:
            if url in _servers:
                _servers.remove(url)
        _server_originals["stop"](self)

    ThreadedMotoServer.start = start  # type: ignore[method-assign]
    ThreadedMotoServer.stop = stop  # type: ignore[method-assign]
    atexit.register(shutdown)  # no worker outlives the process


def stop_workers() -> None:
    """Stop every worker and background task (sandbox.reset)."""
    _stopping.set()
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
        threads = list(_threads)
    for pool in pools:
        pool.close()
    deadline = time.monotonic() + 5
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join(max(deadline - time.monotonic(), 0))
    _stopping.clear()


def reset() -> None:
    """Workers, background tasks, the in-process bridge server and the X-Ray daemon stopped
    (its segments forgotten); default settings."""
    global _bridge
    from sandbox import xray

    stop_workers()
    with _lock:
        bridge, _bridge = _bridge, None
    if bridge is not None:
        bridge.stop()
    xray.stop()
    lambda_settings.reset()


def shutdown() -> None:
    """Everything stopped and the temporary files removed (at exit, or by LocalAws.stop)."""
    global _base_dir, _runtime_dir
    reset()
    with _lock:
        base, _base_dir, _runtime_dir = _base_dir, None, None
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)
