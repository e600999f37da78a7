"""Per approval: the gate's measured use, the original stack's (from its template's code),
the same rows for both."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.cost.measure import Measured
from bench.cost.prices import dollars, request_units

DRIVER = "driver (deployer)"
SWEEP = "sweep_approvals"
GATE_FUNCTIONS = ("start_approval", "receive_result", "close_approvals")
ORIGINAL_MEMORY_MB = 10240  # both functions of the original template (python3.9, no tracing)
# The original stack's calls per approval, read in its CloudFormation template's code
# (/work/shared/reference): the state machine invokes the start function, which starts the
# automation; SSM publishes the approval request; EventBridge invokes the receive function on
# the aws:approve step's end, which reads the automation and its step and calls back. Its
# functions also call sts:GetCallerIdentity once per cold start (not per approval).
ORIGINAL_CALLS = {
    ("state machine", "lambda", "Invoke"): 1,
    ("start_approval", "ssm", "StartAutomationExecution"): 1,
    ("automation (SSM)", "sns", "Publish"): 1,
    ("EventBridge", "lambda", "Invoke"): 1,
    ("receive_result", "ssm", "GetAutomationExecution"): 1,
    ("receive_result", "ssm", "DescribeAutomationStepExecutions"): 1,
    ("receive_result", "states", "SendTaskSuccess"): 1,
}
ORIGINAL_STATES_ENTERED = 3  # the Task, the Choice, Approved or Rejected
ORIGINAL_EMAIL_SUBSCRIPTIONS = 1  # its topic's one e-mail subscription


def by_caller(measured: Measured) -> dict[tuple[str, str, str], int]:
    counted: dict[tuple[str, str, str], int] = defaultdict(int)
    for call in measured.calls:
        label = measured.callers.get(call["caller"], f"other ({call['caller']})")
        counted[label, call["service"], call["action"]] += call["count"]
    return dict(counted)


def dynamodb_units(measured: Measured) -> dict[str, float]:
    """WRU and RRU of the gate's DynamoDB calls, each sized as the largest approval record (an
    upper bound: the pacing's slots are smaller)."""
    units = {"wru": 0.0, "rru": 0.0}
    for call in measured.calls:
        label = measured.callers.get(call["caller"], "")
        if call["service"] != "dynamodb" or label in (DRIVER, SWEEP):
            continue
        wru, rru = request_units(call["action"], call["consistent_read"], measured.record_bytes)
        units["wru"] += call["count"] * wru
        units["rru"] += call["count"] * rru
    return units


def per_approval(measured: Measured, approvals: int) -> dict[str, Any]:
    """Both stacks' use per approval, the same keys."""
    calls = by_caller(measured)
    n = approvals

    def count(label: str, service: str, action: str) -> int:
        return calls.get((label, service, action), 0)

    functions = {name: measured.functions[name] for name in GATE_FUNCTIONS}
    units = dynamodb_units(measured)
    publishes = count("automation (SSM)", "sns", "Publish")
    gate_calls = {key: value / n for key, value in calls.items() if key[0] not in (DRIVER, SWEEP)}
    gate = {
        "lambda_invocations": {k: f.invocations / n for k, f in functions.items()},
        "lambda_gb_seconds": {k: f.gb_seconds / n for k, f in functions.items()},
        "lambda_memory_mb": {k: f.memory_mb for k, f in functions.items()},
        "lambda_billed_ms_mean": {
            k: f.billed_ms / f.invocations if f.invocations else 0 for k, f in functions.items()
        },
        "state_transitions": measured.states_entered / n,
        "dynamodb_wru": units["wru"] / n,
        "dynamodb_rru": units["rru"] / n,
        # one per stage: start_approval starts the first, receive_result each next one
        "ssm_automation_steps": sum(
            count(label, "ssm", "StartAutomationExecution") for label in GATE_FUNCTIONS
        )
        / n,
        "sns_publishes": publishes / n,
        "email_deliveries": publishes * measured.email_subscriptions / n,
        "xray_traces": sum(measured.traces.get(k, 0) for k in GATE_FUNCTIONS) / n,
        "log_bytes": sum(f.log_bytes for f in functions.values()) / n,
        "calls": gate_calls,
    }
    billed = gate["lambda_billed_ms_mean"]
    original_calls: dict[tuple[str, str, str], float] = dict(ORIGINAL_CALLS)
    for key, value in gate_calls.items():
        if key[0] == "approvers":  # the same approvers send the same signals
            original_calls[key] = value
    original = {
        "lambda_invocations": {"start_approval": 1.0, "receive_result": 1.0},
        "lambda_gb_seconds": {
            k: billed[k] / 1000 * ORIGINAL_MEMORY_MB / 1024
            for k in ("start_approval", "receive_result")
        },
        "lambda_memory_mb": {"start_approval": 10240, "receive_result": 10240},
        "state_transitions": float(ORIGINAL_STATES_ENTERED),
        "dynamodb_wru": 0.0,
        "dynamodb_rru": 0.0,
        "ssm_automation_steps": 1.0,
        "sns_publishes": 1.0,
        "email_deliveries": float(ORIGINAL_EMAIL_SUBSCRIPTIONS),
        "xray_traces": 0.0,
        "log_bytes": None,  # not measured: it prints whole events and responses
        "calls": original_calls,
    }
    for side in (gate, original):
        side["dollars"] = priced(side)
    return {"gate": gate, "original": original, "dynamodb_detail": units}


def priced(side: dict[str, Any]) -> dict[str, float]:
    costs = {
        "lambda_requests": dollars("lambda_requests", sum(side["lambda_invocations"].values())),
        "lambda_gb_seconds": dollars("lambda_gb_seconds", sum(side["lambda_gb_seconds"].values())),
        "state_transitions": dollars("state_transitions", side["state_transitions"]),
        "xray_traces": dollars("xray_traces", side["xray_traces"]),
    }
    costs["total_verified"] = sum(costs.values())
    return costs


def sweep_per_run(measured: Measured) -> dict[str, Any]:
    """One idle run of the sweep (nothing pending): its calls, time and traces."""
    use = measured.functions[SWEEP]
    runs = max(use.invocations, 1)
    calls = {
        f"{service}:{action}": value / runs
        for (label, service, action), value in by_caller(measured).items()
        if label == SWEEP
    }
    gb_seconds = use.gb_seconds / runs
    return {
        "invocations": use.invocations,
        "memory_mb": use.memory_mb,
        "calls": calls,
        "gb_seconds": gb_seconds,
        "log_bytes": use.log_bytes / runs,
        "xray_traces": measured.traces.get(SWEEP, 0) / runs,
        "dollars": dollars("lambda_requests", 1)
        + dollars("lambda_gb_seconds", gb_seconds)
        + dollars("xray_traces", measured.traces.get(SWEEP, 0) / runs),
    }
