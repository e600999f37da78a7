"""The local AWS: moto's server on 127.0.0.1 with every sandbox hook installed.

    from sandbox.server import LocalAws

    with LocalAws(port=0) as aws:          # port 0: a free port
        boto3.client("lambda", endpoint_url=aws.endpoint, **aws.client_kwargs())

or from a shell: ``python -m sandbox serve [--port 5000] [--state-dir DIR]`` (``python -m
sandbox stop`` stops a background one through its pid file).

What runs: ``ThreadedMotoServer`` with ``stepfunctions.execute_state_machine`` on (moto's
``/moto-api/config``), every hook of ``sandbox.install()`` (sandbox/LOCAL_AWS.md), IAM
enforced, and a thread that times out due approvals every ``expire_interval`` seconds, so an
approval expires with no API call. ``stop()`` stops all of
it, the function workers included. moto's state is process-wide: one LocalAws per process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from moto.core.config import default_user_config
from moto.moto_api._internal.models import moto_api_backend

import sandbox
from sandbox import awslambda
from sandbox.core import endpoint
from sandbox.core.endpoint import moto_server
from sandbox.iam import iam_settings

# The deployer's key: with IAM enforced, unknown keys are refused.
from sandbox.iam.admin import ACCESS_KEY, SECRET_KEY

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = REPO_ROOT / ".sandbox"
STATE_FILE = "server.json"
REGION = "us-east-1"

_log = logging.getLogger(__name__)
_active: LocalAws | None = None
_active_lock = threading.Lock()


class LocalAws:
    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        state_dir: str | Path | None = None,
        expire_interval: float | None = 1.0,
        region: str = REGION,
        log_requests: bool = False,
        iam: bool | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.state_dir = Path(state_dir) if state_dir else None
        self.expire_interval = expire_interval
        self.region = region
        self.log_requests = log_requests
        # IAM evaluated on every request and service call (sandbox.iam); off only where a
        # test says so, or with SANDBOX_IAM=off (bench/iam_cost.py measures both).
        self.iam = iam if iam is not None else os.environ.get("SANDBOX_IAM", "on") != "off"
        self._server: Any = None
        self._stop_expiry = threading.Event()
        self._expiry: threading.Thread | None = None
        self._previous_sfn_config: Any = None
        self.endpoint = ""
        self.port = 0

    # lifecycle
    def start(self) -> LocalAws:
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeError(
                    f"a LocalAws already runs in this process ({_active.endpoint}); "
                    "moto's state is process-wide"
                )
            _active = self
        try:
            sandbox.install()
            # A new local AWS starts empty: moto's state is process-wide and would otherwise
            # keep what an earlier LocalAws of this process created.
            moto_api_backend.reset()
            sandbox.reset()
            iam_settings.enforce = self.iam
            self._previous_sfn_config = dict(default_user_config.get("stepfunctions", {}))
            # What POST /moto-api/config {"stepfunctions": {...}} does.
            moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": True}})
            if not self.log_requests:
                endpoint.quiet_request_log()
            self._server = moto_server(self.requested_port, self.host)
            self._server.start()
            host, self.port = self._server.get_host_and_port()
            self.endpoint = f"http://{host}:{self.port}"
            endpoint.set_endpoint(self.endpoint)
            if self.expire_interval:
                self._stop_expiry.clear()
                self._expiry = threading.Thread(
                    target=self._expire_loop, name="sandbox-expiry", daemon=True
                )
                self._expiry.start()
            if self.state_dir is not None:
                self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the expiry thread, every function worker and the server (idempotent)."""
        global _active
        self._stop_expiry.set()
        if self._expiry is not None:
            self._expiry.join(timeout=5)
            self._expiry = None
        awslambda.shutdown()
        endpoint.set_endpoint(None)
        iam_settings.enforce = False
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.stop()
            self._server = None
        if self._previous_sfn_config is not None:
            default_user_config["stepfunctions"] = self._previous_sfn_config  # type: ignore[typeddict-item]
            self._previous_sfn_config = None
        if self.state_dir is not None:
            with contextlib.suppress(FileNotFoundError):
                state = self.state_dir / STATE_FILE
                if json.loads(state.read_text()).get("pid") == os.getpid():
                    state.unlink()
        with _active_lock:
            if _active is self:
                _active = None

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # helpers
    def _expire_loop(self) -> None:
        while not self._stop_expiry.wait(self.expire_interval):
            try:
                sandbox.expire_due()
            except Exception:  # keep expiring; say what went wrong
                _log.exception("sandbox: expire_due failed")

    def _write_state(self) -> None:
        assert self.state_dir is not None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ignore = self.state_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text(
                "# Written by `python -m sandbox serve`: nothing here is source.\n*\n"
            )
        state = {"pid": os.getpid(), "endpoint": self.endpoint, "port": self.port}
        temporary = self.state_dir / f".{STATE_FILE}.{os.getpid()}"
        temporary.write_text(json.dumps(state) + "\n")
        temporary.replace(self.state_dir / STATE_FILE)

    def environment(self) -> dict[str, str]:
        """Environment variables that point the AWS CLI, SDKs and Terraform at the sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "TF_VAR_endpoint": self.endpoint,
            "TF_VAR_region": self.region,
        }

    def client_kwargs(self) -> dict[str, Any]:
        """Arguments for ``boto3.client(service, **aws.client_kwargs())``."""
        return {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(service, **{**self.client_kwargs(), **kwargs})

    def api(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        """Call a ``/moto-api/...`` control (sandbox/LOCAL_AWS.md); returns the JSON answer."""
        return call_api(self.endpoint, path, body, method)


def call_api(
    endpoint: str, path: str, body: dict[str, Any] | None = None, method: str = "POST"
) -> Any:
    data = json.dumps(body or {}).encode() if method != "GET" else None
    request = urllib.request.Request(
        f"{endpoint.rstrip('/')}/{path.lstrip('/')}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def banner(aws: LocalAws) -> str:
    """How to point tools at the server (printed by ``python -m sandbox serve``)."""
    env = aws.environment()
    exports = "\n".join(f"  export {name}={value}" for name, value in env.items())
    return f"""Local AWS (moto {_moto_version()} + sandbox) on {aws.endpoint}

Point the AWS CLI, boto3 and Terraform at it:
{exports}

  aws lambda list-functions
  aws logs tail /aws/lambda/<function> --follow
  terraform -chdir=terraform/examples/local apply   # reads TF_VAR_endpoint

Controls: {aws.endpoint}/moto-api/sandbox/clock/advance (POST {{"seconds": N}}),
/moto-api/sandbox/expire, /moto-api/sandbox/faults, /moto-api/reset (see sandbox/LOCAL_AWS.md).
Stop with Ctrl-C or `python -m sandbox stop`."""


def _moto_version() -> str:
    return version("moto")


def read_state(state_dir: str | Path | None = None) -> dict[str, Any] | None:
    """The running server's pid and endpoint from its state file, if any."""
    path = Path(state_dir or DEFAULT_STATE_DIR) / STATE_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Is process ``pid`` running (not gone, not a zombie)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is gone too
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stop_background(state_dir: str | Path | None = None, timeout: float = 15.0) -> bool:
    """SIGTERM the server named by the state file and wait for it; False if none ran."""
    state = read_state(state_dir)
    if not state:
        return False
    pid = int(state["pid"])
    path = Path(state_dir or DEFAULT_STATE_DIR) / STATE_FILE
    if not alive(pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True
