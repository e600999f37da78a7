"""What the local AWS saw while the bench ran: calls by caller, the functions' REPORT lines and
log bytes, the executions' states entered, the records table's item sizes, X-Ray traces."""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.burst.gate import BurstGate, history
from scripts.local_gate import ACCOUNT_ID

# The gate's functions: label -> the local example's output naming the function.
FUNCTIONS = {
    "start_approval": "start_approval_function_name",
    "receive_result": "receive_result_function_name",
    "close_approvals": "close_approvals_function_name",
    "sweep_approvals": "sweep_function_name",
}
DEPLOYER = f"arn:aws:iam::{ACCOUNT_ID}:user/local-admin"
EVENTS = "events.amazonaws.com"


@dataclass
class FunctionUse:
    memory_mb: int
    invocations: int = 0
    billed_ms: int = 0
    log_bytes: int = 0

    @property
    def gb_seconds(self) -> float:
        return self.billed_ms / 1000 * self.memory_mb / 1024


@dataclass
class Measured:
    callers: dict[str, str]  # caller ARN -> label
    calls: list[dict[str, Any]] = field(default_factory=list)
    functions: dict[str, FunctionUse] = field(default_factory=dict)
    states_entered: int = 0
    record_bytes: int = 0  # the largest approval record
    other_items: int = 0  # items neither approval records nor the pacing's slots
    traces: dict[str, int] = field(default_factory=dict)  # function -> distinct trace ids
    email_subscriptions: int = 0


def callers(gate: BurstGate) -> dict[str, str]:
    """Who is who: each role and user ARN the gate's parts and the driver call as."""
    names = {DEPLOYER: "driver (deployer)", EVENTS: "EventBridge"}
    lam = gate.client("lambda")
    for label, output in FUNCTIONS.items():
        role = lam.get_function_configuration(FunctionName=gate.outputs[output])["Role"]
        names[role] = label
    machine = gate.client("stepfunctions").describe_state_machine(
        stateMachineArn=gate.outputs["state_machine_arn"]
    )
    names[machine["roleArn"]] = "state machine"
    names[gate.outputs["automation_role_arn"]] = "automation (SSM)"
    for approver in gate.approvers.values():
        names[approver.arn] = "approvers"
    return names


def memory_sizes(gate: BurstGate) -> dict[str, FunctionUse]:
    lam = gate.client("lambda")
    return {
        label: FunctionUse(
            lam.get_function_configuration(FunctionName=gate.outputs[output])["MemorySize"]
        )
        for label, output in FUNCTIONS.items()
    }


def lambda_use(gate: BurstGate, functions: dict[str, FunctionUse], since_ms: int) -> None:
    """Invocations and billed milliseconds from the REPORT lines, bytes of every log event."""
    logs = gate.client("logs")
    for label, use in functions.items():
        group = f"/aws/lambda/{gate.outputs[FUNCTIONS[label]]}"
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, startTime=since_ms
        )
        for page in pages:
            for event in page["events"]:
                line = event["message"]
                use.log_bytes += len(line.encode())
                if line.startswith("REPORT RequestId"):
                    use.invocations += 1
                    billed = line.split("\tBilled Duration: ", 1)[1].split(" ms", 1)[0]
                    use.billed_ms += int(billed)


def states_entered(gate: BurstGate, execution_arns: list[str]) -> int:
    return sum(
        event["type"].endswith("StateEntered")
        for arn in execution_arns
        for event in history(gate, arn)
    )


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (the developer guide's rules,
    simplified: a number counts as its digits / 2 + 1)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, data = next(iter(value.items()))
    if kind in ("S", "B"):
        return len(data.encode()) if kind == "S" else len(data)
    if kind == "N":
        return math.ceil(len(data.strip("-").replace(".", "")) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    return sum(len(str(member).encode()) for member in data)  # SS, NS, BS


def records_table(gate: BurstGate, measured: Measured) -> None:
    """The largest approval record, and how many items the run left that are neither approval
    records nor the pacing's slots (`pacer#<action>`, one per SSM action): none since
    receive_result 0.7.0, whose delivery lease on the record replaced Powertools' idempotency
    records."""
    paginator = gate.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=gate.outputs["approvals_table_name"]):
        for item in page["Items"]:
            key = item["pk"]["S"]
            if key.startswith("approval#"):
                measured.record_bytes = max(measured.record_bytes, item_size(item))
            elif not key.startswith("pacer#"):
                measured.other_items += 1


def traces(gate: BurstGate, function_names: dict[str, str]) -> dict[str, int]:
    """Distinct trace ids per function among the X-Ray segments the sandbox received."""
    time.sleep(1)  # segments arrive over UDP
    segments = gate.aws.api("/moto-api/sandbox/xray/segments", method="GET")["segments"]
    ids: dict[str, set[str]] = defaultdict(set)
    labels = {name: label for label, name in function_names.items()}
    for segment in segments:
        document = json.loads(segment) if isinstance(segment, str) else segment
        label = labels.get(document.get("name", ""), "other")
        ids[label].add(document.get("trace_id", ""))
    return {label: len(found) for label, found in ids.items()}


def email_subscriptions(gate: BurstGate) -> int:
    subscriptions = gate.client("sns").list_subscriptions_by_topic(
        TopicArn=gate.outputs["notification_topic_arn"]
    )["Subscriptions"]
    return sum(s["Protocol"] == "email" for s in subscriptions)


def settled_calls(
    gate: BurstGate, ignore: set[str], quiet_for: float = 3.0, timeout: float = 60
) -> list[Any]:
    """The call counts once the gate's own calls stopped changing (asynchronous deliveries,
    close_approvals on the workflows' ends); `ignore`: callers that never settle (the
    driver, the scheduled sweep)."""
    deadline = time.monotonic() + timeout
    last: Counter[tuple[str, str, str]] = Counter()
    while True:
        calls = gate.aws.api("/moto-api/sandbox/calls", method="GET")["calls"]
        gate_now = Counter(
            {
                (c["caller"], c["service"], c["action"]): c["count"]
                for c in calls
                if c["caller"] not in ignore
            }
        )
        if gate_now == last or time.monotonic() > deadline:
            return calls
        last = gate_now
        time.sleep(quiet_for)
