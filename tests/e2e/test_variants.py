"""The whole gate, deployed by Terraform into the local AWS, under every value of every
setting for behaviour AWS leaves undocumented (sandbox/ssm/settings.py, docs/aws-behaviour.md).

Values of different settings are combined into profiles so that every value of every
setting appears in at least one profile (the defaults profile included); each flow runs
under each profile, the settings changed at run time (POST /moto-api/sandbox/settings), with
no redeploy. Each flow must end with the outcome the profile implies, or with a named error,
never States.Timeout and never a hang. The matrix (each cell: the index of the setting's value
in the list under it, 0 = the default; test_the_matrix_covers_every_value_of_every_setting
asserts it equals PROFILES and prints it in full):

| setting                 | defaults | lagging | rejected | completed | dropped |
| ----------------------- | -------- | ------- | -------- | --------- | ------- |
| rejection_status        | 0        | 1       | 2        | 3         | 0       |
| approval_status         | 0        | 1       | 2        | 0         | 1       |
| failed_step_outputs     | 0        | 1       | 1        | 0         | 1       |
| decision_values         | 0        | 1       | 0        | 1         | 0       |
| decisions_serialization | 0        | 1       | 1        | 0         | 1       |
| client_token_reuse      | 0        | 1       | 0        | 1         | 0       |
| waiting_holds_slot      | 0        | 1       | 1        | 0         | 0       |
| approver_matching       | 0        | 1       | 2        | 1         | 2       |
| duplicate_signal        | 0        | 1       | 1        | 0         | 1       |
| reject_under_quorum     | 0        | 1       | 0        | 1         | 0       |
| failed_notification     | 0        | 1       | 1        | 0         | 1       |
| status_read_lag_reads   | 0        | 1       | 0        | 1         | 1       |
| ssm_rate_burst_seconds  | 0        | 0       | 0        | 1         | 0       |
| gsi_lag_seconds         | 0        | 1       | 1        | 0         | 0       |

- rejection_status: 0 Failed, 1 Success, 2 Rejected, 3 CompletedWithFailure
- approval_status: 0 Success, 1 Approved, 2 CompletedWithSuccess
- failed_step_outputs: 0 kept, 1 dropped
- decision_values: 0 verb, 1 past
- decisions_serialization: 0 string_per_map, 1 json_array
- client_token_reuse: 0 same_execution, 1 idempotent_parameter_mismatch
- waiting_holds_slot: 0 True, 1 False
- approver_matching: 0 role_sessions, 1 exact, 2 role_sessions_ignoring_path
- duplicate_signal: 0 counted_once, 1 refused
- reject_under_quorum: 0 rejects_at_once, 1 rejects_when_quorum_unreachable
- failed_notification: 0 fails_step, 1 waits_unannounced
- status_read_lag_reads: 0 0, 1 2
- ssm_rate_burst_seconds: 0 1, 1 10
- gsi_lag_seconds: 0 0, 1 2

Flows: approve; reject; 2-of-3 with one reject (and a duplicate approval); expiry (the
sandbox clock advances past the timeout); stop (StopExecution of the workflow); the approval
request's SNS publish fails; queued (the concurrency quota at 1: Pending, or not under
waiting_holds_slot=False); a start retried after the record update failed (ClientToken
reused). What each must give: `expected_*` below, from the profile's values.

Run alone: .venv/bin/python -m pytest tests/e2e/test_variants.py -q -x
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox import dynamodb
from sandbox.core.settings import limits, variants
from scripts.local_gate import LocalGate, wait_for

pytestmark = pytest.mark.terraform

DEFAULTS: dict[str, Any] = {variant.name: variant.default for variant in variants()}
PROFILES: dict[str, dict[str, Any]] = {
    "defaults": dict(DEFAULTS),
    "lagging": DEFAULTS
    | {
        "rejection_status": "Success",
        "approval_status": "Approved",
        "failed_step_outputs": "dropped",
        "decision_values": "past",
        "decisions_serialization": "json_array",
        "client_token_reuse": "idempotent_parameter_mismatch",
        "waiting_holds_slot": False,
        "approver_matching": "exact",
        "duplicate_signal": "refused",
        "reject_under_quorum": "rejects_when_quorum_unreachable",
        "failed_notification": "waits_unannounced",
        "status_read_lag_reads": 2,
        "gsi_lag_seconds": 2,
    },
    "rejected": DEFAULTS
    | {
        "rejection_status": "Rejected",
        "approval_status": "CompletedWithSuccess",
        "failed_step_outputs": "dropped",
        "decisions_serialization": "json_array",
        "waiting_holds_slot": False,
        "approver_matching": "role_sessions_ignoring_path",
        "duplicate_signal": "refused",
        "failed_notification": "waits_unannounced",
        "gsi_lag_seconds": 2,
    },
    "completed": DEFAULTS
    | {
        "rejection_status": "CompletedWithFailure",
        "decision_values": "past",
        "client_token_reuse": "idempotent_parameter_mismatch",
        "approver_matching": "exact",
        "reject_under_quorum": "rejects_when_quorum_unreachable",
        "status_read_lag_reads": 2,
        "ssm_rate_burst_seconds": 10,
    },
    "dropped": DEFAULTS
    | {
        "approval_status": "Approved",
        "failed_step_outputs": "dropped",
        "decisions_serialization": "json_array",
        "approver_matching": "role_sessions_ignoring_path",
        "duplicate_signal": "refused",
        "failed_notification": "waits_unannounced",
        "status_read_lag_reads": 2,
    },
}
# Every flow starts from the documented quotas, SSM's API rates included.
QUOTAS = {limit.name: limit.default for limit in limits()}
FINISH_SECONDS = 90  # generous: Lambda's retries under a read lag take a few seconds


@dataclass(frozen=True)
class Outcome:
    """How the workflow ends: SUCCEEDED with a decision, or FAILED/ABORTED with an error."""

    status: str
    decision: str | None = None
    error: str | None = None


APPROVED = Outcome("SUCCEEDED", decision="Approved")
EXPIRED = Outcome("FAILED", error="Approval.Expired")


def expected_rejection(profile: dict[str, Any]) -> Outcome:
    """The gate decides from ApprovalStatus/ApproverDecisions first; without them (dropped on
    a step that did not end in a success status) only the status "Rejected" still says it;
    any other status without outputs is a failure it names (Approval.Failed)."""
    status = profile["rejection_status"]
    outputs_kept = profile["failed_step_outputs"] == "kept" or status == "Success"
    if outputs_kept or status == "Rejected":
        return Outcome("SUCCEEDED", decision="Rejected")
    return Outcome("FAILED", error="Approval.Failed")


def expected_two_of_three(profile: dict[str, Any]) -> Outcome:
    # alice approves, bob rejects, then carol approves if the step still waits.
    if profile["reject_under_quorum"] == "rejects_when_quorum_unreachable":
        return APPROVED
    return expected_rejection(profile)


def expected_failed_notification(profile: dict[str, Any]) -> Outcome:
    if profile["failed_notification"] == "fails_step":
        return Outcome("FAILED", error="Approval.Failed")
    return EXPIRED  # it waits, nobody is told, it expires


# --- helpers ------------------------------------------------------------------------------


def request(gate: LocalGate, *approvers: str, quorum: int = 1, message: str = "Ship it?") -> dict:
    return {
        "message": message,
        "approvers": [gate.principal_arn(a) for a in approvers],
        "min_required_approvals": quorum,
    }


def use_profile(gate: LocalGate, name: str) -> dict[str, Any]:
    profile = PROFILES[name]
    answer = gate.aws.api("/moto-api/sandbox/settings", {"sandbox": profile | QUOTAS})
    assert {key: answer["sandbox"][key] for key in profile} == profile
    return profile


def automation_status(gate: LocalGate, automation_id: str) -> str:
    return gate.client("ssm").get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]["AutomationExecutionStatus"]


def assert_outcome(gate: LocalGate, execution_arn: str, expected: Outcome) -> dict[str, Any]:
    execution = gate.finished(execution_arn, timeout=FINISH_SECONDS)
    assert execution.get("error") != "States.Timeout", execution
    assert execution["status"] == expected.status, execution
    if expected.error is not None:
        assert execution.get("error") == expected.error, execution
        return {}
    if expected.decision is None:
        return {}
    approval = json.loads(execution["output"])["approval"]
    assert approval["decision"] == expected.decision, approval
    assert approval["is_approved"] is (expected.decision == "Approved")
    return approval


def automation_id_of(gate: LocalGate, execution_arn: str, timeout: float = 30) -> str:
    """The automation of the execution's approval, whatever its status."""

    def recorded() -> str | None:
        for record in gate.records_of(execution_arn):
            if record.get("automation_execution_id"):
                return str(record["automation_execution_id"])
        return None

    return wait_for(recorded, timeout, f"no automation recorded for {execution_arn}")


def wait_status(gate: LocalGate, automation_id: str, wanted: str, timeout: float = 30) -> None:
    wait_for(
        lambda: automation_status(gate, automation_id) == wanted,
        timeout,
        f"automation {automation_id} is not {wanted}",
    )


# --- flows --------------------------------------------------------------------------------


def flow_approve(gate: LocalGate, profile: dict[str, Any]) -> None:
    execution_arn = gate.start(request(gate, "alice", "bob"))
    gate.decide("alice", gate.automation_of(execution_arn), "Approve", "checked the diff")
    approval = assert_outcome(gate, execution_arn, APPROVED)
    assert [(d["approver"], d["comment"]) for d in approval["decided_by"]] == [
        (gate.principal_arn("alice"), "checked the diff")
    ]


def flow_reject(gate: LocalGate, profile: dict[str, Any]) -> None:
    execution_arn = gate.start(request(gate, "bob"))
    gate.decide("bob", gate.automation_of(execution_arn), "Reject", "not now")
    assert_outcome(gate, execution_arn, expected_rejection(profile))


def flow_two_of_three(gate: LocalGate, profile: dict[str, Any]) -> None:
    execution_arn = gate.start(request(gate, "alice", "bob", "carol", quorum=2))
    automation = gate.automation_of(execution_arn)
    gate.decide("alice", automation, "Approve", "one")
    if profile["duplicate_signal"] == "refused":
        with pytest.raises(ClientError) as refused:
            gate.decide("alice", automation, "Approve", "one again")
        assert refused.value.response["Error"]["Code"] == "InvalidAutomationSignalException"
    else:
        gate.decide("alice", automation, "Approve", "one again")  # counts once
    gate.decide("bob", automation, "Reject", "no")
    if profile["reject_under_quorum"] == "rejects_when_quorum_unreachable":
        gate.decide("carol", automation, "Approve", "two")
    expected = expected_two_of_three(profile)
    approval = assert_outcome(gate, execution_arn, expected)
    if expected == APPROVED:
        # decided_by spells decisions "Approve"/"Reject", whatever SSM's spelling.
        assert {d["approver"] for d in approval["decided_by"] if d["decision"] == "Approve"} >= {
            gate.principal_arn("alice"),
            gate.principal_arn("carol"),
        }


def flow_expiry(gate: LocalGate, profile: dict[str, Any]) -> None:
    execution_arn = gate.start(request(gate, "alice"))
    automation = gate.automation_of(execution_arn)
    gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})
    assert_outcome(gate, execution_arn, EXPIRED)
    wait_status(gate, automation, "TimedOut")


def flow_stop(gate: LocalGate, profile: dict[str, Any]) -> None:
    execution_arn = gate.start(request(gate, "bob", message="stopped before anyone decides"))
    automation = gate.automation_of(execution_arn)
    gate.client("stepfunctions").stop_execution(
        executionArn=execution_arn, error="Operator.Stopped", cause="release abandoned"
    )
    assert_outcome(gate, execution_arn, Outcome("ABORTED", error="Operator.Stopped"))
    wait_status(gate, automation, "Cancelled")


def flow_failed_notification(gate: LocalGate, profile: dict[str, Any]) -> None:
    # SSM's publish of the request is refused once (an AuthorizationError, as a topic policy
    # or KMS key policy that does not allow the automation role would give).
    gate.aws.api(
        "/moto-api/sandbox/faults",
        {"service": "sns", "operation": "Publish", "error_code": "AuthorizationError", "times": 1},
    )
    try:
        execution_arn = gate.start(request(gate, "alice", message="nobody is told"))
        automation = automation_id_of(gate, execution_arn)
        expected = expected_failed_notification(profile)
        if expected == EXPIRED:
            wait_status(gate, automation, "Waiting")
            gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})
        assert_outcome(gate, execution_arn, expected)
    finally:
        gate.aws.api("/moto-api/sandbox/faults", method="DELETE")


def flow_queued(gate: LocalGate, profile: dict[str, Any]) -> None:
    _stop_what_still_runs(gate)
    # The sweep judges as of the local AWS's clock, which earlier flows moved hours ahead of
    # the functions' own: it would give the queued approval up at once. Not this flow's test.
    events, rule = gate.client("events"), gate.outputs["sweep_rule_name"]
    events.disable_rule(Name=rule)
    try:
        _queued(gate, profile)
    finally:
        events.enable_rule(Name=rule)


def _queued(gate: LocalGate, profile: dict[str, Any]) -> None:
    gate.aws.api("/moto-api/sandbox/settings", {"sandbox": {"max_concurrent_executions": 1}})
    first_arn = gate.start(request(gate, "alice", message="first"))
    first = gate.automation_of(first_arn)
    second_arn = gate.start(request(gate, "alice", message="second, past the quota"))
    second = automation_id_of(gate, second_arn)
    if profile["waiting_holds_slot"]:
        assert automation_status(gate, second) == "Pending"
        assert gate.client("stepfunctions").describe_execution(executionArn=second_arn)[
            "status"
        ] == ("RUNNING")
    else:
        wait_status(gate, second, "Waiting")
    gate.decide("alice", first, "Approve")
    assert_outcome(gate, first_arn, APPROVED)
    wait_status(gate, second, "Waiting")
    gate.decide("alice", second, "Approve")
    assert_outcome(gate, second_arn, APPROVED)


def flow_retried_start(gate: LocalGate, profile: dict[str, Any]) -> None:
    """start_approval started the automation but could not record it; the workflow's retry
    starts it again with the same ClientToken: one automation, whatever SSM answers."""
    payload = {
        "task_token": f"token-{uuid.uuid4().hex}",
        "execution_arn": (
            "arn:aws:states:us-east-1:123456789012:execution:approval-workflow:"
            f"retried-{uuid.uuid4().hex[:8]}"
        ),
        "state_name": "RequestApproval",
        "state_entered_time": "2026-11-28T08:00:00.000Z",
        "request": request(gate, "alice"),
    }
    lambda_ = gate.client("lambda")

    def invoke() -> dict[str, Any]:
        return lambda_.invoke(
            FunctionName=gate.outputs["start_approval_alias_arn"],
            Payload=json.dumps(payload).encode(),
        )

    gate.aws.api(
        "/moto-api/sandbox/faults",
        {
            "service": "dynamodb",
            "operation": "UpdateItem",
            "error_code": "AccessDeniedException",
            "times": 1,
            # The start's recording of its automation: not a pacing slot's update, nor a
            # late delivery of an earlier flow's approval (it would take the fault instead).
            "body_contains": "SET automation_execution_id = :automation",
        },
    )
    try:
        assert "FunctionError" in invoke()  # started, not recorded
    finally:
        gate.aws.api("/moto-api/sandbox/faults", method="DELETE")
    response = invoke()
    reply = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, reply
    ssm = gate.client("ssm")
    # Every automation start_approval starts is tagged with its approval id (one
    # DescribeAutomationExecutions, not a GetAutomationExecution per automation: SSM's rates).
    mine = [
        item["AutomationExecutionId"]
        for item in ssm.describe_automation_executions(
            Filters=[
                {"Key": "TagKey", "Values": [f"approval-gate:approval:{reply['approval_id']}"]}
            ]
        )["AutomationExecutionMetadataList"]
    ]
    assert mine == [reply["automation_execution_id"]]
    ssm.stop_automation_execution(AutomationExecutionId=mine[0])  # no workflow waits for it


def _stop_what_still_runs(gate: LocalGate) -> None:
    """A flow that failed earlier may have left an automation that holds a slot."""
    ssm = gate.client("ssm")
    running = ssm.describe_automation_executions(
        Filters=[{"Key": "ExecutionStatus", "Values": ["Pending", "InProgress", "Waiting"]}]
    )["AutomationExecutionMetadataList"]
    for item in running:
        with contextlib.suppress(ClientError):  # ended meanwhile
            ssm.stop_automation_execution(AutomationExecutionId=item["AutomationExecutionId"])


FLOWS = {
    "approve": flow_approve,
    "reject": flow_reject,
    "two_of_three": flow_two_of_three,
    "expiry": flow_expiry,
    "stop": flow_stop,
    "failed_notification": flow_failed_notification,
    "queued": flow_queued,
    "retried_start": flow_retried_start,
}


# --- tests --------------------------------------------------------------------------------


def matrix_rows() -> list[list[str]]:
    """The matrix as the module docstring shows it: value indexes by setting and profile."""
    rows = [["setting", *PROFILES]]
    for variant in variants():
        indexes = [str(variant.values.index(p[variant.name])) for p in PROFILES.values()]
        rows.append([variant.name, *indexes])
    return rows


def legend_lines() -> list[str]:
    return [
        f"- {v.name}: " + ", ".join(f"{i} {value}" for i, value in enumerate(v.values))
        for v in variants()
    ]


def _docstring_rows() -> list[list[str]]:
    lines = [line for line in (__doc__ or "").splitlines() if line.startswith("| ")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [row for row in rows if not re.fullmatch(r"-+", row[0])]


def test_the_matrix_covers_every_value_of_every_setting(gate):
    print("\n".join(" | ".join(row) for row in matrix_rows()), *legend_lines(), sep="\n")
    assert _docstring_rows() == matrix_rows()
    legend = [line for line in (__doc__ or "").splitlines() if line.startswith("- ")]
    assert legend == legend_lines()
    assert PROFILES["defaults"] == DEFAULTS
    for variant in variants():
        shown = {profile[variant.name] for profile in PROFILES.values()}
        missing = [value for value in variant.values if value not in shown]
        assert not missing, f"{variant.name}: no profile has {missing}"
    # The local AWS knows every setting the matrix uses, with the same values.
    listed = gate.aws.api("/moto-api/sandbox/settings", method="GET")["sandbox_variants"]
    for variant in variants():
        assert listed[variant.name]["values"] == list(variant.values)


@pytest.fixture(scope="module", autouse=True)
def _defaults_after(gate):
    # The local AWS runs in this process: hook DynamoDB's GSI reads here until
    # sandbox.install() does it.
    dynamodb.install()
    yield
    gate.aws.api("/moto-api/sandbox/settings", {"sandbox": DEFAULTS | QUOTAS})
    gate.aws.api("/moto-api/sandbox/faults", method="DELETE")


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("profile", PROFILES)
def test_the_gate_under_each_profile(gate, profile, flow):
    FLOWS[flow](gate, use_profile(gate, profile))
