"""What the sandbox knows of a function version (``FunctionSpec``: what its workers run) and
what an invocation returns (``Outcome``, as Lambda's Invoke response has it)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from moto.utilities.utils import get_partition

from sandbox.awslambda.exceptions import SandboxUnsupported

LOG_TAIL_BYTES = 4096  # LogType=Tail: the end of the invocation's log


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
