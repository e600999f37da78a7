"""Least privilege, shown: every statement of every role the module deploys is needed.

For each statement (by Sid) of each role's inline policy as deployed (read back with IAM
GetRolePolicy), and for each resource entry of a statement whose resource type the Service
Authorization data marks required: the policy without it is put on the role, the scenario
that needs it is run, and it must fail with IAM's denial of that role and one of the
statement's actions recorded by the local AWS; the policy is restored afterwards.

A statement no scenario shows needed is a finding, kept here as a strict xfail with the
reason (a statement to drop, or a check the local AWS lacks): the day it becomes needed the
xfail passes, and strict makes that a failure that asks for the marker to go.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import sandbox.iam
from sandbox import xray
from sandbox.iam.definitions import resource_types
from tests.e2e.least_privilege_run import ExpectedDenial, Run, ScenarioFailed
from tests.e2e.least_privilege_scenarios import SCENARIOS, sweep_disabled

pytestmark = pytest.mark.terraform

# --- the matrix ---------------------------------------------------------------------------------

APPROVAL = "an approval"
SWEEP = "a lost event and the sweep"
QUEUED_TOO_LONG = "an approval queued too long"
STOPPED = "a stopped workflow"
RESULT_DEAD_LETTER = "a dead-lettered result and its redrive"
WORKFLOW_END_DEAD_LETTER = "a dead-lettered workflow end and its redrive"
RETRIED_START = "a retried start that SSM refuses"
ENDED_WHILE_STARTING = "a workflow that ends while its approval starts"
RETRIED_NEXT_STAGE_START = "a retried next-stage start that SSM refuses"
ENDED_WHILE_NEXT_STAGE_STARTS = "a workflow that ends while its next stage starts"
EXPIRED = "an expired approval"
REMINDER = "a reminder"
TWO_STAGES = "a two-stage approval"
TWO_STAGES_SWEPT = "a two-stage approval whose first event is lost"

# Findings (the reasons of the strict xfails).
NO_ENVIRONMENT_DECRYPT_CHECK = (
    "local AWS lacks the check: Lambda does not decrypt a function's KMS-encrypted "
    "environment with its execution role (AWS fails the invocation with "
    "KMSAccessDeniedException when the role may not kms:Decrypt with the key)"
)
NO_STATE_MACHINE_LOG_DELIVERY_CHECK = (
    "local AWS lacks the check: AWS verifies the role's log-delivery permissions when the "
    "state machine is created or updated with a logging configuration; the local AWS does not"
)
NO_STATE_MACHINE_TRACES = (
    "local AWS lacks the check: it sends no X-Ray segments for Step Functions executions, "
    "so the state machine role's xray permissions are never used"
)
STEPS_NEVER_TRUNCATED = (
    "not needed by the gate's document: receive_result calls DescribeAutomationStepExecutions "
    "only when GetAutomationExecution truncates StepExecutions, and the approval document "
    "has one step; no scenario can show it (keep it as a guard, or drop it)"
)
NO_PUBLISH_KEY_CHECK = (
    "local AWS lacks the check: it authorises a role's own sns:Publish to an encrypted topic "
    "without the topic key's kms:GenerateDataKey and kms:Decrypt (it checks them only for "
    "the messages services send, such as SSM's); AWS requires both of the publisher"
)
NO_TELEMETRY_CHECK = (
    "local AWS lacks the check: its X-Ray daemon sends no telemetry records, so "
    "xray:PutTelemetryRecords is never authorised (AWS's daemon sends them)"
)


@dataclass(frozen=True)
class Case:
    role: str  # the role's key in `roles` (its function, or state_machine, automation)
    sid: str
    scenario: str
    # Narrowed, not removed: the statement without its resource entries of this type...
    resource_type: str | None = None
    # ... or without this one of its actions.
    action: str | None = None
    finding: str | None = None

    @property
    def id(self) -> str:
        what = f"{self.role}/{self.sid}"
        if self.resource_type:
            what += f" on {self.resource_type}"
        if self.action:
            what += f" ({self.action})"
        return f"{what} is needed by {self.scenario}"


def _function_cases(
    role: str, scenario: str, *, dead_letter: str | None, decrypt_finding: str
) -> list[Case]:
    """The statements lambda_service adds to every function's role."""
    cases = [
        Case(role, "WriteOwnLogs", scenario),
        Case(role, "WriteTraces", scenario),
        Case(role, "DecryptEnvironment", scenario, finding=decrypt_finding),
    ]
    if dead_letter:
        cases.append(Case(role, "SendToDeadLetterTarget", dead_letter))
    return cases


def _stage_start_cases(role: str, scenario: str) -> list[Case]:
    """What starting a stage's automation takes (the policy document start_automation), but
    listing and cancelling automations: each role needs those for its own reasons."""
    return [
        Case(role, "StartApprovalAutomation", scenario),
        Case(role, "StartApprovalAutomation", scenario, "automation-execution"),
        Case(role, "StartApprovalAutomation", scenario, "document"),
        Case(role, "TagOwnAutomation", scenario),
        Case(role, "PassAutomationRoleToSsm", scenario),
    ]


CASES: list[Case] = [
    # start_approval
    Case("start_approval", "WriteApprovalRecords", APPROVAL),
    *_stage_start_cases("start_approval", APPROVAL),
    Case("start_approval", "FindOwnAutomation", RETRIED_START),
    Case("start_approval", "ListApprovalAutomations", RETRIED_START),
    Case("start_approval", "CancelApprovalAutomations", ENDED_WHILE_STARTING),
    *_function_cases(
        "start_approval", APPROVAL, dead_letter=None, decrypt_finding=NO_ENVIRONMENT_DECRYPT_CHECK
    ),
    # receive_result (a stage that approved asks the next: what starting one takes)
    *_stage_start_cases("receive_result", TWO_STAGES),
    Case("receive_result", "ListApprovalAutomations", RETRIED_NEXT_STAGE_START),
    Case("receive_result", "CancelApprovalAutomations", ENDED_WHILE_NEXT_STAGE_STARTS),
    Case("receive_result", "ReadApprovalRecords", TWO_STAGES),
    Case("receive_result", "ReadAutomationExecutions", APPROVAL),
    Case("receive_result", "UpdateApprovalRecords", APPROVAL),
    Case("receive_result", "CallBackWaitingWorkflows", APPROVAL),
    Case("receive_result", "UseDeadLetterQueueKey", RESULT_DEAD_LETTER),
    *_function_cases(
        "receive_result",
        APPROVAL,
        dead_letter=RESULT_DEAD_LETTER,
        decrypt_finding=NO_ENVIRONMENT_DECRYPT_CHECK,
    ),
    # sweep_approvals (the delivery's statements, a next stage's start included, and its own)
    *_stage_start_cases("sweep_approvals", TWO_STAGES_SWEPT),
    Case("sweep_approvals", "ListApprovalAutomations", SWEEP),
    Case("sweep_approvals", "CancelApprovalAutomations", QUEUED_TOO_LONG),
    Case("sweep_approvals", "ReadAutomationExecutions", SWEEP),
    Case("sweep_approvals", "UpdateApprovalRecords", SWEEP),
    Case("sweep_approvals", "CallBackWaitingWorkflows", SWEEP),
    Case("sweep_approvals", "ReadApprovalRecords", SWEEP),
    Case("sweep_approvals", "ListPendingApprovals", SWEEP),
    Case("sweep_approvals", "NotifyApprovers", REMINDER),
    Case("sweep_approvals", "UseTopicKey", REMINDER, finding=NO_PUBLISH_KEY_CHECK),
    *_function_cases(
        "sweep_approvals", SWEEP, dead_letter=None, decrypt_finding=NO_ENVIRONMENT_DECRYPT_CHECK
    ),
    # close_approvals
    Case("close_approvals", "FindApprovalsOfExecution", STOPPED),
    Case("close_approvals", "CloseApprovalRecords", STOPPED),
    Case("close_approvals", "CancelApprovalAutomations", STOPPED),
    Case("close_approvals", "UseDeadLetterQueueKey", WORKFLOW_END_DEAD_LETTER),
    *_function_cases(
        "close_approvals",
        STOPPED,
        dead_letter=WORKFLOW_END_DEAD_LETTER,
        decrypt_finding=NO_ENVIRONMENT_DECRYPT_CHECK,
    ),
    # the state machine
    Case("state_machine", "InvokeStartApprovalAlias", APPROVAL),
    Case(
        "state_machine",
        "DeliverExecutionLogs",
        APPROVAL,
        finding=NO_STATE_MACHINE_LOG_DELIVERY_CHECK,
    ),
    Case("state_machine", "WriteTraces", APPROVAL, finding=NO_STATE_MACHINE_TRACES),
    # the automation (SSM runs it as this role)
    Case("automation", "NotifyApprovers", APPROVAL),
    Case("automation", "UseTopicKey", APPROVAL),
]


# Each action of the statements with several that the local AWS checks, where a scenario
# can show it: a statement may be needed while one of its actions is not.
ACTION_CASES: list[Case] = [
    Case("start_approval", "WriteApprovalRecords", APPROVAL, action="dynamodb:PutItem"),
    Case("start_approval", "WriteApprovalRecords", APPROVAL, action="dynamodb:UpdateItem"),
    Case(
        "receive_result", "ReadAutomationExecutions", APPROVAL, action="ssm:GetAutomationExecution"
    ),
    Case(
        "receive_result",
        "ReadAutomationExecutions",
        APPROVAL,
        action="ssm:DescribeAutomationStepExecutions",
        finding=STEPS_NEVER_TRUNCATED,
    ),
    Case("receive_result", "CallBackWaitingWorkflows", APPROVAL, action="states:SendTaskSuccess"),
    Case("receive_result", "CallBackWaitingWorkflows", EXPIRED, action="states:SendTaskFailure"),
    Case("receive_result", "WriteOwnLogs", APPROVAL, action="logs:CreateLogStream"),
    Case("receive_result", "WriteOwnLogs", APPROVAL, action="logs:PutLogEvents"),
    Case("receive_result", "WriteTraces", APPROVAL, action="xray:PutTraceSegments"),
    Case(
        "receive_result",
        "WriteTraces",
        APPROVAL,
        action="xray:PutTelemetryRecords",
        finding=NO_TELEMETRY_CHECK,
    ),
]


def _params(cases: list[Case]) -> list[Any]:
    # A finding's xfail takes only "the scenario did not fail" (pytest.raises' Failed): any
    # other error stays an error.
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[
                pytest.mark.xfail(strict=True, reason=case.finding, raises=pytest.fail.Exception)
            ]
            if case.finding
            else [],
        )
        for case in cases
    ]


# --- the deployed roles and their policies ----------------------------------------------------


@dataclass(frozen=True)
class RolePolicy:
    role_name: str
    policy_name: str


@pytest.fixture(scope="module")
def traced_gate(gate):
    """The gate with the functions' X-Ray segments captured (off by default in the local
    AWS), so that a role without xray:PutTraceSegments is seen losing them."""
    gate.aws.api("/moto-api/sandbox/settings", {"lambda": {"capture_traces": True}})
    try:
        with sweep_disabled(gate):  # only the sweep's own scenario runs it
            yield gate
    finally:
        gate.aws.api("/moto-api/sandbox/settings", {"lambda": {"capture_traces": False}})


@pytest.fixture(scope="module")
def roles(traced_gate) -> dict[str, RolePolicy]:
    """Each role of the gate with its one inline policy, by the role's key in CASES."""
    gate = traced_gate
    iam, lam = gate.client("iam"), gate.client("lambda")
    arns = {
        key: lam.get_function_configuration(FunctionName=gate.outputs[f"{key}_function_name"])[
            "Role"
        ]
        for key in ("start_approval", "receive_result", "close_approvals")
    }
    arns["sweep_approvals"] = lam.get_function_configuration(
        FunctionName=gate.outputs["sweep_function_name"]
    )["Role"]
    arns["state_machine"] = gate.client("stepfunctions").describe_state_machine(
        stateMachineArn=gate.outputs["state_machine_arn"]
    )["roleArn"]
    arns["automation"] = gate.outputs["automation_role_arn"]
    found = {}
    for key, arn in arns.items():
        name = arn.rsplit("/", 1)[-1]
        (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
        found[key] = RolePolicy(name, policy_name)
    return found


def deployed_policy(gate, role: RolePolicy) -> dict[str, Any]:
    document = gate.client("iam").get_role_policy(
        RoleName=role.role_name, PolicyName=role.policy_name
    )["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def put_policy(gate, role: RolePolicy, document: dict[str, Any]) -> None:
    gate.client("iam").put_role_policy(
        RoleName=role.role_name, PolicyName=role.policy_name, PolicyDocument=json.dumps(document)
    )


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    matching = [s for s in statements(document) if s.get("Sid") == sid]
    assert len(matching) == 1, f"statement {sid!r}: {len(matching)} deployed, not one"
    return matching[0]


def resource_type_of(arn: str) -> str:
    """`arn:aws:ssm:r:a:automation-execution/*` -> automation-execution."""
    return arn.split(":", 5)[5].split("/", 1)[0] if arn.count(":") >= 5 else arn


def required_resource_types(actions: list[str]) -> set[str]:
    return {t.name for action in actions for t in resource_types(action) if t.required}


def without(document: dict[str, Any], case: Case) -> dict[str, Any]:
    """The policy without the case's statement, or with the statement narrowed."""
    changed = json.loads(json.dumps(document))
    kept = []
    for item in statements(changed):
        if item.get("Sid") != case.sid:
            kept.append(item)
        elif case.action:
            actions = [a for a in as_list(item["Action"]) if a.lower() != case.action.lower()]
            assert len(actions) == len(as_list(item["Action"])) - 1, (
                f"{case.id}: the statement has no action {case.action}"
            )
            kept.append(item | {"Action": actions})
        elif case.resource_type:
            resources = [
                arn
                for arn in as_list(item["Resource"])
                if resource_type_of(arn) != case.resource_type
            ]
            assert resources and len(resources) < len(as_list(item["Resource"])), (
                f"{case.id}: no resource entry of type {case.resource_type} to narrow"
            )
            kept.append(item | {"Resource": resources})
    changed["Statement"] = kept
    return changed


# --- the tests ------------------------------------------------------------------------------


def test_every_statement_of_every_role_has_a_case(traced_gate, roles):
    """The matrix covers exactly the statements deployed, and every required resource entry
    of a statement with several."""
    deployed: set[tuple[str, str]] = set()
    narrowable: set[tuple[str, str, str]] = set()
    for key, role in roles.items():
        for item in statements(deployed_policy(traced_gate, role)):
            assert item.get("Sid"), f"{key}: a statement without a Sid: {item}"
            deployed.add((key, item["Sid"]))
            entries = as_list(item["Resource"])
            if len(entries) > 1:
                required = required_resource_types(as_list(item["Action"]))
                narrowable |= {
                    (key, item["Sid"], resource_type_of(arn))
                    for arn in entries
                    if resource_type_of(arn) in required
                }
    covered = {(c.role, c.sid) for c in CASES}
    assert covered == deployed, (
        f"statements without a case: {sorted(deployed - covered)}; "
        f"cases of statements not deployed: {sorted(covered - deployed)}"
    )
    narrowed = {(c.role, c.sid, c.resource_type) for c in CASES if c.resource_type}
    assert narrowed == narrowable, (
        f"required resource entries without a case: {narrowable - narrowed}"
    )
    assert {c.scenario for c in CASES} <= set(SCENARIOS)


def test_with_the_policies_as_deployed_every_scenario_passes_without_a_denial(traced_gate):
    sandbox.iam.clear_denials()
    for name, scenario in SCENARIOS.items():
        xray.clear()
        run = Run(traced_gate)
        try:
            scenario(run)
        except ScenarioFailed as failed:
            pytest.fail(f"{name}: {failed}")
        finally:
            run.clean_up()
    assert sandbox.iam.denials() == []


@pytest.mark.parametrize("case", _params(CASES + ACTION_CASES))
def test_statement_is_needed(traced_gate, roles, case: Case):
    role = roles[case.role]
    original = deployed_policy(traced_gate, role)
    removed = as_list(statement(original, case.sid)["Action"])
    expected = ExpectedDenial(
        role.role_name, frozenset(a.lower() for a in ([case.action] if case.action else removed))
    )
    run = Run(traced_gate, expected=expected)
    put_policy(traced_gate, role, without(original, case))
    sandbox.iam.clear_denials()
    xray.clear()
    try:
        with pytest.raises(ScenarioFailed) as failed:
            SCENARIOS[case.scenario](run)
        assert expected.found(), (
            f"{case.scenario} failed ({failed.value}), but IAM recorded no denial of "
            f"{sorted(expected.actions)} for {role.role_name}: {sandbox.iam.denials()}"
        )
    finally:
        put_policy(traced_gate, role, original)
        run.clean_up()
    assert deployed_policy(traced_gate, role) == original


def test_an_approver_without_the_approver_policy_is_refused(traced_gate):
    """Listed as an approver is not allowed to signal: IAM refuses first
    (docs/aws-behaviour.md#iam-approvers-need-permission)."""
    gate = traced_gate
    iam = gate.client("iam")
    name = f"approver-without-policy-{uuid.uuid4().hex[:6]}"
    user_arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    run = Run(gate)
    try:
        execution_arn = gate.start({"message": "only a listed approver", "approvers": [user_arn]})
        run.executions.append(execution_arn)
        automation = run.waiting_automation(execution_arn)
        sandbox.iam.clear_denials()
        ssm = boto3.client(
            "ssm",
            endpoint_url=gate.aws.endpoint,
            region_name=gate.aws.region,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        with pytest.raises(ClientError) as refused:
            ssm.send_automation_signal(AutomationExecutionId=automation, SignalType="Approve")
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert [(d["principal"], d["action"]) for d in sandbox.iam.denials()] == [
            (user_arn, "ssm:SendAutomationSignal")
        ]
        assert run.automation_status(automation) == "Waiting"  # the signal never counted
    finally:
        run.clean_up()
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=name)
