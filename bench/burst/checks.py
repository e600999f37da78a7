"""The verdicts: every execution ended SUCCEEDED with the decision its approvers signalled, one
TaskSucceeded in its history (TaskFailed only for the retried start errors), one approval
record DECIDED with its callback DELIVERED, exactly one automation per approval, each decision
delivered once (from the logs), nothing in the dead-letter queue: none lost, none duplicated."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.burst.approvals import Approval
from bench.burst.gate import (
    BurstGate,
    all_automations,
    approval_records,
    execution_name,
    executions,
    history,
)

# The errors start_approval raises when SSM refuses to start an automation; the state
# machine retries them (terraform/modules/approval_gate/templates/state_machine.asl.json.tftpl).
START_RETRY_ERRORS = ("ApprovalStartThrottled", "ApprovalConcurrencyLimitExceeded")
EXPECTED_AUTOMATION_STATUS = {"Approved": ("Success",), "Rejected": ("Failed", "Success")}


@dataclass
class Checked:
    problems: list[str] = field(default_factory=list)
    start_retries: Counter[str] = field(default_factory=Counter)
    retries_per_execution: Counter[str] = field(default_factory=Counter)
    # per approval: when its delivery claimed the decision (the record's decided_at) and
    # when Step Functions took the callback (the TaskSucceeded event)
    claimed_at: dict[str, float] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)
    # when SSM started each automation of the gate's document (its ExecutionStartTime)
    automations_started_at: list[float] = field(default_factory=list)
    automations: int = 0
    records: int = 0
    executions: int = 0
    dead_letters: int = 0


def check(gate: BurstGate, approvals: list[Approval], pool: ThreadPoolExecutor) -> Checked:
    checked = Checked()
    problems = checked.problems
    started = [a for a in approvals if not a.start_error]
    for approval in approvals:
        if approval.start_error:
            problems.append(f"{approval.name}: StartExecution failed: {approval.start_error}")
        elif approval.signal_error:
            problems.append(f"{approval.name}: the signal failed: {approval.signal_error}")
        elif not approval.status:
            problems.append(f"{approval.name}: still running")

    def inspect(approval: Approval) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        described = gate.client("stepfunctions").describe_execution(
            executionArn=approval.execution_arn
        )
        return described, history(gate, approval.execution_arn)

    records = defaultdict(list)
    for record in approval_records(gate):
        records[execution_name(record.get("execution_arn", ""))].append(record)
    checked.records = sum(len(found) for found in records.values())
    for approval, (described, events) in zip(started, pool.map(inspect, started), strict=True):
        check_execution(approval, described, gate, problems)
        check_history(approval, events, checked)
        check_records(approval, records.pop(approval.name, []), checked)
    for name, extra in records.items():
        problems.append(f"{len(extra)} approval records of an execution not in the burst: {name}")

    automations = all_automations(gate)
    checked.automations = len(automations)
    checked.automations_started_at = [
        item["ExecutionStartTime"].timestamp()
        for item in automations
        if item.get("ExecutionStartTime")
    ]
    if len(automations) != len(started):
        problems.append(
            f"{len(automations)} automations of the gate's document were started for "
            f"{len(started)} executions"
        )
    parameters = pool.map(
        lambda item: gate.client("ssm").get_automation_execution(
            AutomationExecutionId=item["AutomationExecutionId"]
        )["AutomationExecution"]["Parameters"],
        automations,
    )
    approval_ids = Counter(p.get("ApprovalId", ["?"])[0] for p in parameters)
    duplicated = {aid: n for aid, n in approval_ids.items() if n > 1}
    if duplicated:
        problems.append(f"approvals with more than one automation: {duplicated}")
    expected_status = {a.automation_id: a.expected for a in started}
    for item in automations:
        status = item["AutomationExecutionStatus"]
        wanted = expected_status.get(item["AutomationExecutionId"])
        if wanted is None:
            problems.append(
                f"automation {item['AutomationExecutionId']} ({status}) was not signalled"
            )
        elif status not in EXPECTED_AUTOMATION_STATUS[wanted]:
            problems.append(f"automation {item['AutomationExecutionId']} is {status} ({wanted})")

    listed = executions(gate)
    checked.executions = len(listed)
    if len(listed) != len(started):
        problems.append(f"{len(listed)} executions of the state machine, {len(started)} started")

    attributes = gate.client("sqs").get_queue_attributes(
        QueueUrl=gate.outputs["dead_letter_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    checked.dead_letters = int(attributes["ApproximateNumberOfMessages"])
    if checked.dead_letters:
        problems.append(f"{checked.dead_letters} results in the dead-letter queue")
    return checked


def check_records(approval: Approval, records: list[dict[str, Any]], checked: Checked) -> None:
    """One record, DECIDED as signalled, its callback DELIVERED, for the signalled automation."""
    if len(records) != 1:
        checked.problems.append(f"{approval.name}: {len(records)} approval records, not 1")
        return
    record = records[0]
    if (record.get("status"), record.get("callback")) != ("DECIDED", "DELIVERED"):
        checked.problems.append(
            f"{approval.name}: record {record.get('approval_id')} is "
            f"{record.get('status')} with callback {record.get('callback')} "
            f"({record.get('callback_error') or record.get('closed_reason') or '-'}), "
            "not DECIDED with callback DELIVERED"
        )
    if record.get("outcome") != approval.expected:
        checked.problems.append(
            f"{approval.name}: record outcome {record.get('outcome')}, "
            f"signalled {approval.expected}"
        )
    if record.get("automation_execution_id") != approval.automation_id:
        checked.problems.append(
            f"{approval.name}: record names automation {record.get('automation_execution_id')}, "
            f"the approvers signalled {approval.automation_id}"
        )
    if record.get("decided_at"):
        checked.claimed_at[approval.name] = epoch(record["decided_at"])


def check_execution(
    approval: Approval, described: dict[str, Any], gate: BurstGate, problems: list[str]
) -> None:
    if described["status"] != "SUCCEEDED":
        problems.append(
            f"{approval.name}: {described['status']} "
            f"({described.get('error', '')}: {described.get('cause', '')[:300]})"
        )
        return
    result = json.loads(described["output"]).get("approval", {})
    decided_by = {entry.get("approver") for entry in result.get("decided_by", [])}
    wanted_by = {gate.principal_arn(name) for name in approval.deciders}
    if (result.get("decision"), result.get("is_approved")) != (
        approval.expected,
        approval.expected == "Approved",
    ):
        problems.append(
            f"{approval.name}: decision {result.get('decision')} "
            f"(is_approved {result.get('is_approved')}), signalled {approval.expected}"
        )
    if decided_by != wanted_by:
        problems.append(
            f"{approval.name}: decided_by {sorted(decided_by)}, not {sorted(wanted_by)}"
        )
    if result.get("automation_execution_id") != approval.automation_id:
        problems.append(
            f"{approval.name}: output names automation {result.get('automation_execution_id')}"
            f", the approvers signalled {approval.automation_id}"
        )


def check_history(approval: Approval, events: list[dict[str, Any]], checked: Checked) -> None:
    """One TaskSucceeded; TaskFailed only for start errors the state machine retries."""
    succeeded = [e for e in events if e["type"] == "TaskSucceeded"]
    failed = [e for e in events if e["type"] == "TaskFailed"]
    other = Counter(
        e["type"] for e in events if e["type"].startswith("Task") and e["type"].endswith("Out")
    )
    if len(succeeded) != 1:
        checked.problems.append(f"{approval.name}: {len(succeeded)} TaskSucceeded events, not 1")
    else:
        checked.answered_at[approval.name] = succeeded[0]["timestamp"].timestamp()
    for event in failed:
        error = event.get("taskFailedEventDetails", {}).get("error", "?")
        if error in START_RETRY_ERRORS:
            checked.start_retries[error] += 1
            checked.retries_per_execution[approval.name] += 1
        else:
            checked.problems.append(f"{approval.name}: TaskFailed {error}")
    if other:
        checked.problems.append(f"{approval.name}: {dict(other)}")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def check_deliveries(
    deliveries: dict[str, dict[str, int]], count: int, problems: list[str]
) -> None:
    """Every workflow waits for its decision here: each decision is delivered once, and no
    callback may be refused."""
    delivered = sum(deliveries["delivered"].values())
    if delivered != count:
        problems.append(
            f"'Decision delivered' logged {delivered} times for {count} approvals "
            f"({deliveries['delivered']})"
        )
    refused = sum(deliveries["refused"].values())
    if refused:
        problems.append(
            f"{refused} callbacks refused ({deliveries['refused']}) although every workflow "
            f"waited for its decision; deliveries resumed: {deliveries['resumed']}"
        )
