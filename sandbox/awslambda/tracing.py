"""What Lambda does for X-Ray: the daemon a worker sends to, the trace header of an
invocation, and the ``AWS::Lambda::Function`` segment of a sampled one."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sandbox import xray
from sandbox.awslambda.models import FunctionSpec
from sandbox.awslambda.settings import lambda_settings


def xray_daemon() -> str | None:
    """The X-Ray daemon the functions send to (lambda_settings), or None: tracing off."""
    if lambda_settings.xray_daemon_address:
        return str(lambda_settings.xray_daemon_address)
    if lambda_settings.capture_traces:
        return xray.start()
    return None


def new_trace(spec: FunctionSpec, daemon: str | None) -> dict[str, Any]:
    """The invocation's trace: sampled for Active tracing with a daemon (Lambda's header)."""
    sampled = bool(daemon) and spec.tracing_mode == "Active"
    if sampled:
        trace_id, parent = xray.new_trace(spec.account_id, spec.region, spec.role)
    else:
        trace_id = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        parent = uuid.uuid4().hex[:16]
    header = f"Root={trace_id};Parent={parent};Sampled={int(sampled)}"
    if not sampled:
        header += ";Lineage=sandbox"
    return {"trace_id": trace_id, "id": parent, "sampled": sampled, "header": header}


def send_function_segment(
    daemon: str,
    spec: FunctionSpec,
    trace: dict[str, Any],
    started_at: float,
    request_id: str,
    error: dict[str, Any] | None,
) -> None:
    """The AWS::Lambda::Function segment, parent of the function's own subsegments."""
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
    xray.send(daemon, segment)
