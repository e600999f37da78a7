"""The approvals tests/e2e/test_token_secrecy.py runs through the deployed gate (approved,
rejected, stopped while it waits, a bad request, a result left in the dead-letter queue, an
expiry), each with the task token Step Functions gave it, its record and its history."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from typing import Any

from botocore.exceptions import ClientError

from scripts.local_gate import wait_for

# In the request of every flow: the searched services' data is shown reachable by finding it.
CANARY = "token-secrecy-canary-7f3a"


@dataclasses.dataclass
class WatchedApproval:
    name: str
    execution_arn: str
    token: str = ""
    record: dict[str, Any] = dataclasses.field(default_factory=dict)
    execution: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def request(gate: Any, *approvers: str, message: str) -> dict[str, Any]:
    return {
        "message": f"{message} ({CANARY})",
        "approvers": [gate.principal_arn(a) for a in approvers],
        "min_required_approvals": 1,
    }


def run_flows(gate: Any) -> dict[str, WatchedApproval]:
    sfn = gate.client("stepfunctions")
    flows: dict[str, WatchedApproval] = {}

    def start(name: str, body: dict[str, Any]) -> WatchedApproval:
        flows[name] = WatchedApproval(
            name, gate.start(body, name=f"secrecy-{name}-{uuid.uuid4().hex[:6]}")
        )
        return flows[name]

    # Approved, with a comment.
    flow = start("approved", request(gate, "alice", "bob", message="Ship release 42?"))
    gate.decide("alice", gate.automation_of(flow.execution_arn), "Approve", "checked the diff")
    gate.finished(flow.execution_arn)

    # Rejected.
    flow = start("rejected", request(gate, "bob", message="Drop the old table?"))
    gate.decide("bob", gate.automation_of(flow.execution_arn), "Reject", "not now")
    gate.finished(flow.execution_arn)

    # The workflow is stopped before the decision: the gate closes the approval (and cancels
    # its automation), or, if the decision comes first, Step Functions refuses the callback.
    flow = start("stopped", request(gate, "alice", message="Rotate the keys?"))
    automation = gate.automation_of(flow.execution_arn)
    sfn.stop_execution(executionArn=flow.execution_arn, error="Stopped", cause="by its owner")
    with contextlib.suppress(ClientError):  # the automation may be cancelled already
        gate.decide("alice", automation, "Approve", "too late")
    wait_for(
        lambda: any(settled(r) for r in gate.records_of(flow.execution_arn)),
        60,
        "the approval of the stopped workflow was neither closed nor refused",
    )

    # A bad request: start_approval refuses it before anything is stored.
    start("bad request", {"message": "m", "approvers": ["arn:aws:iam::123456789012:group/Ops"]})
    gate.finished(flows["bad request"].execution_arn)

    # Step Functions refuses every SendTaskSuccess (a broken role, say): receive_result fails
    # with the token in hand, Lambda retries twice, the event stays in the dead-letter queue.
    flow = start("undelivered", request(gate, "alice", message="Scale down?"))
    automation = gate.automation_of(flow.execution_arn)
    sqs = gate.client("sqs")
    queue = gate.outputs["dead_letter_queue_url"]
    gate.aws.api(
        "/moto-api/sandbox/faults",
        {
            "service": "stepfunctions",
            "operation": "SendTaskSuccess",
            "error_code": "AccessDeniedException",
        },
    )
    try:
        gate.decide("alice", automation, "Approve", "while broken")
        wait_for(
            lambda: int(
                sqs.get_queue_attributes(
                    QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            ),
            60,
            "nothing reached the dead-letter queue",
        )
    finally:
        gate.aws.api("/moto-api/sandbox/faults", method="DELETE")

    # Nobody decides: the approval expires (last: the clock moves for every automation).
    flow = start("expired", request(gate, "alice", message="Restart the cluster?"))
    gate.automation_of(flow.execution_arn)
    gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})
    gate.finished(flow.execution_arn)

    for flow in flows.values():
        flow.execution = sfn.describe_execution(executionArn=flow.execution_arn)
        flow.history = sfn.get_execution_history(executionArn=flow.execution_arn, maxResults=1000)[
            "events"
        ]
        flow.token = scheduled_token(flow.history)
        records = gate.records_of(flow.execution_arn)
        flow.record = records[0] if records else {}
    return flows


def settled(record: dict[str, Any]) -> bool:
    """The approval of a stopped workflow is over: closed, or its callback refused."""
    return record.get("status") == "CLOSED" or record.get("callback") == "REFUSED"


def scheduled_token(history: list[dict[str, Any]]) -> str:
    """The token Step Functions put in the Task's parameters (TaskScheduled)."""
    [scheduled] = [e for e in history if e["type"] == "TaskScheduled"]
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    return parameters["Payload"]["task_token"]
