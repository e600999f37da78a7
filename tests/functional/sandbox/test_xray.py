"""X-Ray traces of the functions (lambda_settings.capture_traces, xray_daemon_address;
sandbox.xray): a function with Active tracing runs sampled and its segments are kept.
The fixtures' sandbox.reset() stops the daemon and restores the settings after each test."""

from __future__ import annotations

import importlib.util
import io
import json
import socket
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sandbox
from sandbox import awslambda, xray

APP = """
import json
import os

import boto3
from aws_xray_sdk.core import patch, xray_recorder

patch(["boto3"])


def handler(event, context):
    with xray_recorder.in_subsegment("## approve") as subsegment:
        subsegment.put_annotation("approval_id", event["approval_id"])
        boto3.client("sqs").list_queues()
    if event.get("fail"):
        raise RuntimeError("refused")
    return {
        "pid": os.getpid(),
        "trace_header": os.environ.get("_X_AMZN_TRACE_ID"),
        "env": {
            name: os.environ.get(name)
            for name in (
                "AWS_XRAY_DAEMON_ADDRESS",
                "AWS_XRAY_SDK_ENABLED",
                "POWERTOOLS_TRACE_DISABLED",
                "AWS_XRAY_CONTEXT_MISSING",
            )
        },
    }
"""


def traced_zip() -> bytes:
    """app.py with the X-Ray SDK and wrapt of this interpreter (pure Python: no .so)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", APP)
        for package in ("aws_xray_sdk", "wrapt"):
            spec = importlib.util.find_spec(package)
            assert spec is not None and spec.submodule_search_locations
            root = Path(next(iter(spec.submodule_search_locations)))
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.suffix not in (".so", ".pyc", ".c"):
                    archive.write(path, str(path.relative_to(root.parent)))
    return buffer.getvalue()


ZIP = traced_zip()


def create(lambdas: Any, name: str, mode: str = "Active") -> str:
    return lambdas.lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=lambdas.role_arn,
        Handler="app.handler",
        Code={"ZipFile": ZIP},
        Timeout=30,
        TracingConfig={"Mode": mode},
    )["FunctionArn"]


def wait_for(
    read: Callable[[], list[dict[str, Any]]], done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found = read()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def by_name(segments: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {segment["name"]: segment for segment in segments}


def one_trace(found: list[dict[str, Any]]) -> bool:
    return {"traced", "## approve", "sqs"} <= set(by_name(found))


def check_trace(segments: list[dict[str, Any]], result: dict[str, Any], arn: str) -> None:
    """Lambda's function segment, parent of the function's subsegments, one trace."""
    named = by_name(segments)
    function, approve, sqs = named["traced"], named["## approve"], named["sqs"]
    assert function["origin"] == "AWS::Lambda::Function"
    assert function["aws"]["function_arn"] == f"{arn}:$LATEST"
    assert function["aws"]["account_id"] == "123456789012"
    assert function["end_time"] >= approve["end_time"] >= approve["start_time"]
    assert "fault" not in function
    assert approve["type"] == "subsegment" and approve["parent_id"] == function["id"]
    assert approve["annotations"] == {"approval_id": "approval-42"}
    assert sqs["namespace"] == "aws" and sqs["parent_id"] == approve["id"]
    assert sqs["aws"]["operation"] == "ListQueues"
    assert {segment["trace_id"] for segment in segments} == {function["trace_id"]}
    # The function ran under Lambda's header for a sampled trace.
    assert result["trace_header"] == (
        f"Root={function['trace_id']};Parent={function['id']};Sampled=1"
    )


def test_captured_traces_hold_the_function_segment_and_its_subsegments(any_lambdas):
    arn = create(any_lambdas, "traced")
    awslambda.lambda_settings.capture_traces = True

    response, result = any_lambdas.invoke("traced", {"approval_id": "approval-42"})

    assert "FunctionError" not in response, result
    segments = wait_for(xray.segments, one_trace)
    check_trace(segments, result, arn)
    address = result["env"]["AWS_XRAY_DAEMON_ADDRESS"]
    assert address == xray.start() and address.startswith("127.0.0.1:")
    assert result["env"] == {
        "AWS_XRAY_DAEMON_ADDRESS": address,
        "AWS_XRAY_SDK_ENABLED": None,
        "POWERTOOLS_TRACE_DISABLED": None,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def test_the_local_aws_serves_them_over_http_and_xray_batch_get_traces(lambdas, local_aws):
    arn = create(lambdas, "traced")
    settings = local_aws.api("/moto-api/sandbox/settings", {"lambda": {"capture_traces": True}})
    assert settings["lambda"]["capture_traces"] is True

    _, result = lambdas.invoke("traced", {"approval_id": "approval-42"})

    segments = wait_for(
        lambda: local_aws.api("/moto-api/sandbox/xray/segments", method="GET")["segments"],
        one_trace,
    )
    check_trace(segments, result, arn)
    trace_id = by_name(segments)["traced"]["trace_id"]
    [trace] = local_aws.client("xray").batch_get_traces(TraceIds=[trace_id])["Traces"]
    documents = {json.loads(item["Document"])["name"] for item in trace["Segments"]}
    assert documents == {"traced", "## approve", "sqs"}

    assert local_aws.api("/moto-api/sandbox/xray/segments", method="DELETE") == {"segments": []}
    assert xray.segments() == []
    local_aws.api("/moto-api/sandbox/reset")
    assert (
        local_aws.api("/moto-api/sandbox/settings", method="GET")["lambda"]["capture_traces"]
        is False
    )


def test_off_by_default_the_functions_trace_nothing(lambdas):
    create(lambdas, "traced")
    xray.start()  # a daemon listens, but no worker is told of it

    response, result = lambdas.invoke("traced", {"approval_id": "approval-42"})

    assert "FunctionError" not in response, result
    assert result["env"] == {
        "AWS_XRAY_DAEMON_ADDRESS": None,
        "AWS_XRAY_SDK_ENABLED": "false",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    assert result["trace_header"].endswith(";Sampled=0;Lineage=sandbox")
    time.sleep(0.5)
    assert xray.segments() == []


def test_a_pass_through_function_is_not_sampled(lambdas):
    """As in Lambda: only Active tracing samples an invocation that comes untraced."""
    create(lambdas, "traced", mode="PassThrough")
    awslambda.lambda_settings.capture_traces = True

    _, result = lambdas.invoke("traced", {"approval_id": "approval-42"})

    assert result["env"]["AWS_XRAY_DAEMON_ADDRESS"] == xray.start()
    assert ";Sampled=0" in result["trace_header"]
    time.sleep(0.5)
    assert xray.segments() == []


def test_a_changed_setting_replaces_the_idle_workers(lambdas):
    create(lambdas, "traced")
    _, untraced = lambdas.invoke("traced", {"approval_id": "approval-1"})

    awslambda.lambda_settings.capture_traces = True
    _, traced = lambdas.invoke("traced", {"approval_id": "approval-42"})
    segments = wait_for(xray.segments, one_trace)

    assert traced["pid"] != untraced["pid"]
    assert by_name(segments)["## approve"]["annotations"] == {"approval_id": "approval-42"}

    awslambda.lambda_settings.capture_traces = False
    _, again = lambdas.invoke("traced", {"approval_id": "approval-2"})
    time.sleep(0.5)
    assert again["pid"] != traced["pid"]
    assert ";Sampled=0" in again["trace_header"]
    assert len(xray.segments()) == len(segments)  # nothing more


def test_a_failed_invocation_is_a_fault_of_the_function_segment(lambdas):
    create(lambdas, "traced")
    awslambda.lambda_settings.capture_traces = True

    response, _ = lambdas.invoke("traced", {"approval_id": "approval-42", "fail": True})

    assert response["FunctionError"] == "Unhandled"
    segments = wait_for(xray.segments, one_trace)
    assert by_name(segments)["traced"]["fault"] is True


def test_a_daemon_of_your_own_gets_the_documents(lambdas):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    host, port = receiver.getsockname()
    create(lambdas, "traced")
    awslambda.lambda_settings.xray_daemon_address = f"{host}:{port}"
    try:
        _, result = lambdas.invoke("traced", {"approval_id": "approval-42"})
        documents = []
        while not one_trace(documents):
            header, _, body = receiver.recv(65536).partition(b"\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            documents.append(json.loads(body))
    finally:
        receiver.close()
    assert result["env"]["AWS_XRAY_DAEMON_ADDRESS"] == f"{host}:{port}"
    assert by_name(documents)["## approve"]["parent_id"] == by_name(documents)["traced"]["id"]
    assert xray.segments() == []  # the sandbox's own daemon kept nothing


def test_reset_stops_the_daemon_and_forgets_its_segments(lambdas):
    create(lambdas, "traced")
    awslambda.lambda_settings.capture_traces = True
    lambdas.invoke("traced", {"approval_id": "approval-42"})
    address = xray.start()
    assert wait_for(xray.segments, one_trace)

    sandbox.reset()

    assert xray.segments() == []
    assert awslambda.lambda_settings.capture_traces is False
    host, port = address.split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, int(port)))  # the port is free again
