"""What leaves the functions during a whole approval: logs, metrics and X-Ray segments.
The task token must appear in none of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def flow() -> dict:
    """One traced approval in a fresh interpreter, as Lambda would run it."""
    environment = {
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": "approval-gate",
        "LAMBDA_TASK_ROOT": str(REPO),
        "_X_AMZN_TRACE_ID": (
            "Root=1-6747f000-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
        ),
        "POWERTOOLS_TRACE_DISABLED": "false",
        "PYTHONPATH": os.pathsep.join(
            str(REPO / p)
            for p in (
                "libs/approval_core/src",
                "services/start_approval/src",
                "services/receive_result/src",
                ".",
            )
        ),
    }
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.traced_flow"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    tagged = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines if line[:6].isupper()}
    output = [json.loads(line) for line in lines if line.startswith("{")]
    return {
        "token": json.loads(tagged["TOKEN"]),
        "status": tagged["STATUS"],
        "automation": tagged["AUTOMATION"],
        "traces": [json.loads(doc) for doc in json.loads(tagged["TRACES"])],
        "logs": [entry for entry in output if "level" in entry],
        "metrics": [entry for entry in output if "_aws" in entry],
        "raw": run.stdout + run.stderr,
    }


def test_the_flow_completes(flow):
    assert flow["status"] == "SUCCEEDED"


def test_the_token_appears_in_no_log_trace_metric_or_automation(flow):
    token = flow["token"]
    assert len(token) > 20
    assert token not in flow["raw"].replace(f"TOKEN {json.dumps(token)}", "")
    assert token not in flow["automation"]
    assert token not in json.dumps(flow["traces"])


def test_logs_are_json_with_service_version_and_the_approval_id_as_correlation_id(flow):
    approval_logs = [
        e for e in flow["logs"] if e["message"] in ("Approval requested", "Decision delivered")
    ]
    assert {e["service"] for e in approval_logs} == {"start_approval", "receive_result"}
    assert all(e["service_version"] for e in approval_logs)
    assert len({e["correlation_id"] for e in approval_logs}) == 1
    assert approval_logs[0]["correlation_id"] == approval_logs[0]["approval_id"]


def test_every_aws_call_is_a_subsegment_and_approvals_are_annotated(flow):
    documents = flow["traces"]

    def walk(entity):
        yield entity
        for child in entity.get("subsegments", []):
            yield from walk(child)

    entities = [e for doc in documents for e in walk(doc)]
    operations = {
        e.get("aws", {}).get("operation") for e in entities if e.get("namespace") == "aws"
    }
    assert {
        "StartAutomationExecution",
        "PutItem",
        "GetAutomationExecution",
        "SendTaskSuccess",
    } <= operations
    handlers = [e for e in entities if e.get("name", "").startswith("## lambda_handler")]
    assert handlers and all("approval_id" in e.get("annotations", {}) for e in handlers)


def test_metrics_count_requests_decisions_by_outcome_and_time_to_decision(flow):
    names = {}
    for blob in flow["metrics"]:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                names[metric["Name"]] = (directive["Namespace"], directive["Dimensions"], blob)
    assert (
        names["ApprovalsRequested"][2]["ApprovalsRequested"] == [1.0]
        or names["ApprovalsRequested"][2]["ApprovalsRequested"] == 1.0
    )
    namespace, dimensions, blob = names["ApprovalDecisions"]
    assert namespace == "ApprovalGate"
    assert sorted(dimensions[0]) == ["outcome", "service"] and blob["outcome"] == "Approved"
    assert "TimeToDecision" in names
