"""The approvals the probe runs. Each returns raw evidence (statuses, outputs, error codes);
`report` reads the variants from it. Through the gate where the gate can do it, SSM directly
where it cannot (a used ClientToken, an expiry shorter than the gate's document allows)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from scripts.aws_probe.approvers import ProbeApprover, ProbeRoles
from scripts.aws_probe.gate import APPROVE_ACTION, DeployedGate, ProbeError, error_code
from scripts.aws_probe.variants import APPROVE_ACTION_TIMEOUT_DEFAULT, is_terminal

# Who approves: a, b, c (listed), stranger (never listed), pathed (a role under a path).
APPROVERS = ("a", "b", "c", "stranger", "pathed")
PATHED = ("pathed",)


@dataclass
class Probe:
    """What every scenario uses, and what earlier scenarios learnt."""

    gate: DeployedGate
    roles: ProbeRoles
    run_id: str
    # How long a signal's effect may take to show before the probe takes "still Waiting" as
    # the answer (reject_under_quorum, duplicate_signal).
    settle_seconds: float = 15
    expiry_seconds: int = 60  # the timeout of the expiry check's own document
    # A gate automation's parameters (role, topic), for the automations started directly.
    template: dict[str, list[str]] = field(default_factory=dict)

    def who(self, name: str) -> ProbeApprover:
        return self.roles.approvers[name]

    def sessions(self, *names: str) -> list[str]:
        return [self.who(name).session_arn for name in names]

    def nonce(self, scenario: str) -> str:
        return f"approval-probe-{self.run_id}-{scenario}"


def snapshot(gate: DeployedGate, execution: dict[str, Any]) -> dict[str, Any]:
    """What SSM shows of an automation and its approve step."""
    step = gate.approve_step(execution)
    return {
        "automation_execution_id": execution.get("AutomationExecutionId"),
        "automation_status": execution.get("AutomationExecutionStatus"),
        "automation_outputs": execution.get("Outputs", {}),
        "automation_failure_message": execution.get("FailureMessage"),
        "step_status": step.get("StepStatus"),
        "step_outputs": step.get("Outputs", {}),
        "step_failure_message": step.get("FailureMessage"),
    }


def workflow_view(described: dict[str, Any]) -> dict[str, Any]:
    view = {"status": described["status"]}
    if described.get("output"):
        view["approval"] = json.loads(described["output"]).get("approval")
    for key in ("error", "cause"):
        if described.get(key):
            view[key] = described[key]
    return view


def try_signal(probe: Probe, who: str, automation_id: str, signal: str, comment: str = "") -> str:
    """ "accepted", or the error code SSM answered with."""
    try:
        probe.gate.signal(probe.roles, who, automation_id, signal, comment)
    except ClientError as error:
        return f"{error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
    return "accepted"


def _through_gate(probe: Probe, scenario: str, approvers: list[str], quorum: int = 1):
    gate = probe.gate
    nonce = probe.nonce(scenario)
    execution_arn = gate.start_workflow(gate.request(nonce, approvers, quorum), nonce)
    automation_id = gate.automation_of(execution_arn, nonce)
    if not probe.template:
        probe.template = gate.execution(automation_id).get("Parameters", {})
    return execution_arn, automation_id


def _one_decision(
    probe: Probe, name: str, approver: str, signal_type: str, comment: str, expected: str
) -> dict[str, Any]:
    """A workflow through the gate that one approver decides; the gate must deliver it."""
    execution_arn, automation = _through_gate(probe, name, probe.sessions(approver))
    signal = try_signal(probe, approver, automation, signal_type, comment)
    settled = snapshot(probe.gate, probe.gate.settled(automation))
    workflow = workflow_view(probe.gate.finished_workflow(execution_arn))
    delivered = (workflow.get("approval") or {}).get("decision") == expected
    return {
        "signal": signal,
        "settled": settled,
        "workflow": workflow,
        "gate_check": _check(f"SUCCEEDED, decision {expected}", workflow, delivered),
    }


def approval(probe: Probe) -> dict[str, Any]:
    return _one_decision(probe, "approval", "a", "Approve", "looks good", "Approved")


def rejection(probe: Probe) -> dict[str, Any]:
    return _one_decision(probe, "rejection", "b", "Reject", "not now", "Rejected")


def two_of_three_with_a_reject(probe: Probe) -> dict[str, Any]:
    gate = probe.gate
    execution_arn, automation = _through_gate(
        probe, "quorum", probe.sessions("a", "b", "c"), quorum=2
    )
    first = try_signal(probe, "a", automation, "Approve")
    evidence: dict[str, Any] = {"signals": {"a Approve": first}}
    evidence["after_one_approve"] = snapshot(gate, gate.execution(automation))
    evidence["signals"]["b Reject"] = try_signal(probe, "b", automation, "Reject", "one says no")
    evidence["after_one_reject"] = snapshot(gate, gate.settled(automation, probe.settle_seconds))
    if not is_terminal(evidence["after_one_reject"]["step_status"]):
        evidence["signals"]["c Reject"] = try_signal(probe, "c", automation, "Reject")
        evidence["after_second_reject"] = snapshot(gate, gate.settled(automation))
    workflow = workflow_view(gate.finished_workflow(execution_arn))
    evidence["workflow"] = workflow
    rejected = (workflow.get("approval") or {}).get("decision") == "Rejected"
    evidence["gate_check"] = _check("SUCCEEDED, decision Rejected", workflow, rejected)
    return evidence


def stranger(probe: Probe) -> dict[str, Any]:
    gate = probe.gate
    execution_arn, automation = _through_gate(probe, "stranger", probe.sessions("a"))
    refused = try_signal(probe, "stranger", automation, "Approve", "let me in")
    after = snapshot(gate, gate.execution(automation))
    try_signal(probe, "a", automation, "Reject", "the stranger may not decide")
    workflow = workflow_view(gate.finished_workflow(execution_arn))
    was_refused = refused.startswith("InvalidAutomationSignal")
    rejected = (workflow.get("approval") or {}).get("decision") == "Rejected"
    return {
        "stranger": probe.who("stranger").session_arn,
        "stranger_signal": refused,
        "after_stranger": after,
        "workflow": workflow,
        "gate_check": _check(
            "the stranger refused with InvalidAutomationSignalException; then Rejected",
            workflow | {"stranger_signal": refused},
            was_refused and rejected,
        ),
    }


def duplicate_approve(probe: Probe) -> dict[str, Any]:
    gate = probe.gate
    execution_arn, automation = _through_gate(probe, "duplicate", probe.sessions("a", "b"), 2)
    first = try_signal(probe, "a", automation, "Approve", "first")
    second = try_signal(probe, "a", automation, "Approve", "again")
    after = snapshot(gate, gate.settled(automation, probe.settle_seconds))
    evidence: dict[str, Any] = {"first": first, "second": second, "after_second": after}
    if not is_terminal(after["step_status"]):
        evidence["b Approve"] = try_signal(probe, "b", automation, "Approve")
        evidence["settled"] = snapshot(gate, gate.settled(automation))
    workflow = workflow_view(gate.finished_workflow(execution_arn))
    evidence["workflow"] = workflow
    approved = (workflow.get("approval") or {}).get("decision") == "Approved"
    evidence["gate_check"] = _check("SUCCEEDED, decision Approved", workflow, approved)
    return evidence


def approver_matching(probe: Probe) -> dict[str, Any]:
    """Role ARNs listed, sessions signing: does a role ARN name its sessions, and does a
    role ARN written without its path name a role that has one?"""
    gate = probe.gate
    listed = [probe.who("a").role_arn, probe.who("pathed").role_arn_without_path]
    parameters = gate.direct_parameters(_template(probe), probe.nonce("matching"), listed, 2)
    automation = gate.start_direct(parameters)
    _wait_waiting(probe, automation)
    evidence: dict[str, Any] = {"approvers_listed": listed}
    evidence["role_arn_session_signal"] = try_signal(probe, "a", automation, "Approve")
    if evidence["role_arn_session_signal"] == "accepted":
        evidence["pathed_role_session_signal"] = try_signal(probe, "pathed", automation, "Approve")
    evidence["after"] = snapshot(gate, gate.settled(automation, probe.settle_seconds))
    return evidence


def client_token_reuse(probe: Probe) -> dict[str, Any]:
    gate = probe.gate
    token = str(uuid.uuid4())
    parameters = gate.direct_parameters(
        _template(probe), probe.nonce("token"), probe.sessions("a"), 1
    )
    first = gate.start_direct(parameters, client_token=token)
    evidence: dict[str, Any] = {"client_token": token, "first": first}
    try:
        evidence["second"] = gate.start_direct(parameters, client_token=token)
    except ClientError as error:
        evidence["second_error"] = (
            f"{error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
        )
    return evidence


def expiry(probe: Probe) -> dict[str, Any]:
    """Nobody decides. Through the gate when its document times out within the probe's
    wait; else an automation of a copy of the gate's document with a short timeout."""
    gate = probe.gate
    content = json.loads(
        gate.ssm.get_document(Name=gate.document_name, DocumentFormat="JSON")["Content"]
    )
    step = next(s for s in content["mainSteps"] if s.get("action") == APPROVE_ACTION)
    timeout = int(step.get("timeoutSeconds", APPROVE_ACTION_TIMEOUT_DEFAULT))
    evidence: dict[str, Any] = {"gate_document_timeout_seconds": timeout}
    if timeout <= gate.wait_seconds:
        execution_arn, automation = _through_gate(probe, "expiry", probe.sessions("a"))
        evidence["settled"] = snapshot(gate, gate.settled(automation, timeout + gate.wait_seconds))
        workflow = workflow_view(gate.finished_workflow(execution_arn))
        evidence["workflow"] = workflow
        evidence["gate_check"] = _check(
            "FAILED with Approval.Expired", workflow, workflow.get("error") == "Approval.Expired"
        )
        return evidence
    step["timeoutSeconds"] = probe.expiry_seconds
    name = f"approval-probe-{probe.run_id}-expiry"
    gate.ssm.create_document(
        Name=name, Content=json.dumps(content), DocumentType="Automation", DocumentFormat="JSON"
    )
    evidence["document"] = (
        f"{name} (a copy of {gate.document_name}, timeout {probe.expiry_seconds} s)"
    )
    automation = ""
    try:
        parameters = gate.direct_parameters(
            _template(probe), probe.nonce("expiry"), probe.sessions("a"), 1
        )
        automation = gate.start_direct(parameters, document=name)
        evidence["settled"] = snapshot(
            gate, gate.settled(automation, probe.expiry_seconds + gate.wait_seconds)
        )
    finally:
        if automation and not is_terminal(gate.execution(automation)["AutomationExecutionStatus"]):
            gate.ssm.stop_automation_execution(AutomationExecutionId=automation, Type="Cancel")
        try:
            gate.ssm.delete_document(Name=name)
        except ClientError as error:
            evidence["document_left"] = f"{name}: {error}"
    return evidence


def _template(probe: Probe) -> dict[str, list[str]]:
    """The gate's automation parameters: learnt from its first approval, else its outputs."""
    if probe.template:
        return probe.template
    outputs = probe.gate.outputs
    template = {}
    if outputs.get("notification_topic_arn"):
        template["NotificationArn"] = [str(outputs["notification_topic_arn"])]
    if outputs.get("automation_role_arn"):
        template["AutomationAssumeRole"] = [str(outputs["automation_role_arn"])]
    if "NotificationArn" not in template:
        raise ProbeError(
            "no gate automation ran and the outputs name no notification_topic_arn: the "
            "probe cannot start the gate's document directly"
        )
    return template


def _wait_waiting(probe: Probe, automation: str) -> None:
    from scripts.aws_probe.gate import wait_until

    def waiting() -> bool:
        return probe.gate.execution(automation).get("AutomationExecutionStatus") == "Waiting"

    if not wait_until(waiting, probe.gate.wait_seconds, probe.gate.poll_seconds):
        seen = snapshot(probe.gate, probe.gate.execution(automation))
        raise ProbeError(f"automation {automation} never waited for approvers: {seen}")


def _check(expected: str, seen: dict[str, Any], ok: bool) -> dict[str, Any]:
    """One of tests/e2e/test_approval_flow.py's assertions, on this account."""
    return {"expected": expected, "seen": seen, "ok": ok}


SCENARIOS: dict[str, Callable[[Probe], dict[str, Any]]] = {
    "approval": approval,
    "rejection": rejection,
    "two_of_three_with_a_reject": two_of_three_with_a_reject,
    "stranger": stranger,
    "duplicate_approve": duplicate_approve,
    "approver_matching": approver_matching,
    "client_token_reuse": client_token_reuse,
    "expiry": expiry,
}
