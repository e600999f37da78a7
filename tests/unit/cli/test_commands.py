"""The command line without AWS: arguments, exit codes, refusals before any call, the
audit formats, X-Ray trees, the redrive, the policies."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from approvals_cli import audit, listing, traces
from approvals_cli.automations import Automation
from approvals_cli.aws import Caller
from approvals_cli.deployment import Deployment
from approvals_cli.errors import CliError, ExitCode
from approvals_cli.gate import Gate
from approvals_cli.main import _since, cli
from approvals_cli.policies import policy
from approvals_cli.records import Approval
from approvals_cli.redrive import gate_functions, redrive

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:gate"
DEPLOYMENT = Deployment(
    {
        "approvals_table_name": "gate-approvals",
        "document_name": "Gate-Approval",
        "state_machine_arn": MACHINE,
        "dead_letter_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/gate-dlq",
        "sweep_function_name": "gate-sweep-approvals",
        "event_rule_name": "gate-approval-result",
    },
    "test",
)


def test_help_works_without_aws_or_a_deployment():
    ran = CliRunner().invoke(cli, ["--help"], env={"APPROVALS_CONFIG": ""})
    assert ran.exit_code == 0 and "Examples" in ran.output
    for command in (
        "list",
        "show",
        "approve",
        "reject",
        "trace",
        "wait",
        "withdraw",
        "sweep",
        "redrive",
        "export",
        "doctor",
        "policy",
    ):
        assert command in ran.output


def test_since_accepts_dates_times_and_durations():
    midnight = datetime(2026, 11, 30, tzinfo=UTC).timestamp()
    assert _since("2026-11-30") == midnight
    assert _since("2026-11-30T10:00:00Z") == midnight + 36000
    assert _since(None) is None
    now = _since("0s")
    assert now is not None and _since("2h") == now - 7200
    with pytest.raises(Exception, match="not a date"):
        _since("last tuesday")


# --- decisions refused before anything is sent ------------------------------------------------


class FakeSsm:
    def __init__(self, automation: dict[str, Any]):
        self.automation = automation
        self.others: dict[str, dict[str, Any]] = {}  # other automations, by id
        self.signals: list[dict[str, Any]] = []
        self.stops: list[dict[str, Any]] = []

    def get_automation_execution(self, AutomationExecutionId: str) -> dict[str, Any]:
        return {"AutomationExecution": self.others.get(AutomationExecutionId, self.automation)}

    def send_automation_signal(self, **request: Any) -> None:
        self.signals.append(request)

    def stop_automation_execution(self, **request: Any) -> None:
        self.stops.append(request)


class FakeRecords:
    table = "gate-approvals"

    def __init__(self, approval: Approval):
        self.approval = approval

    def get(self, approval_id: str) -> Approval | None:
        return self.approval if approval_id == self.approval.approval_id else None

    def of_execution(self, arn: str) -> list[Approval]:
        return [self.approval] if arn == self.approval.execution_arn else []


class FakeAws:
    def __init__(self, caller: str, ssm: FakeSsm):
        self.caller = Caller(caller, "123456789012")
        self.ssm = ssm
        self.region = "us-east-1"

    def client(self, service: str) -> Any:
        assert service in ("ssm", "stepfunctions"), service
        return self.ssm if service == "ssm" else FakeStepFunctions()


class FakeStepFunctions:
    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"status": "RUNNING"}


APPROVAL_ID = "27a57dbc-a550-5d7d-8e34-98538b79f2d4"
AUTOMATION_ID = "951497e1-c829-4010-8262-e149bb1b3d01"
EXECUTION = MACHINE.replace(":stateMachine:", ":execution:") + ":release-42"


def gate_for(
    caller: str,
    status: str = "PENDING",
    automation_status: str = "Waiting",
    decisions: list[str] | None = None,
    **record: Any,
) -> tuple[Gate, FakeSsm]:
    ssm = FakeSsm(
        {
            "AutomationExecutionId": AUTOMATION_ID,
            "DocumentName": "Gate-Approval",
            "AutomationExecutionStatus": automation_status,
            "Parameters": {
                "ApprovalId": [APPROVAL_ID],
                "Approvers": ["arn:aws:iam::123456789012:user/alice", "bob"],
                "MinRequiredApprovals": ["2"],
            },
            "StepExecutions": [{"Outputs": {"ApproverDecisions": decisions or []}}],
        }
    )
    gate = Gate(DEPLOYMENT, FakeAws(caller, ssm))  # type: ignore[arg-type]
    approval = Approval(
        APPROVAL_ID, EXECUTION, status, "", 0, automation_execution_id=AUTOMATION_ID, **record
    )
    gate.__dict__["records"] = FakeRecords(approval)
    return gate, ssm


def test_an_approver_signals_once_with_the_comment():
    gate, ssm = gate_for("arn:aws:iam::123456789012:user/bob")
    gate.decide("release-42", "approve", "fine")  # by execution name
    assert ssm.signals == [
        {
            "AutomationExecutionId": AUTOMATION_ID,
            "SignalType": "Approve",
            "Payload": {"Comment": ["fine"]},
        }
    ]


def test_a_stranger_is_refused_naming_the_approvers_and_nothing_is_sent():
    gate, ssm = gate_for("arn:aws:iam::123456789012:user/mallory")
    with pytest.raises(CliError) as refused:
        gate.decide(APPROVAL_ID, "reject", "")
    assert refused.value.code is ExitCode.REFUSED
    assert "arn:aws:iam::123456789012:user/alice, bob (quorum 2)" in refused.value.message
    assert ssm.signals == []


@pytest.mark.parametrize(
    ("record", "automation_status", "words"),
    [
        (
            {"status": "DECIDED", "outcome": "Approved", "decided_at": "t"},
            "Success",
            "already decided",
        ),
        ({"status": "DECIDED", "outcome": "Expired", "decided_at": "t"}, "TimedOut", "expired"),
        ({"status": "CLOSED", "closed_reason": "ABORTED"}, "Cancelled", "closed"),
        ({}, "TimedOut", "can no longer be decided"),
        ({}, "Pending", "queued"),
    ],
)
def test_a_decision_that_would_change_nothing_is_refused_before_sending(
    record, automation_status, words
):
    gate, ssm = gate_for(
        "arn:aws:iam::123456789012:user/alice", automation_status=automation_status, **record
    )
    with pytest.raises(CliError) as refused:
        gate.decide(APPROVAL_ID, "approve", "")
    assert refused.value.code is ExitCode.CONFLICT and words in refused.value.message
    assert ssm.signals == []


def test_a_second_decision_by_the_same_approver_is_refused():
    mine = json.dumps(
        {
            "Approver": "arn:aws:iam::123456789012:user/alice",
            "Decision": "Approve",
            "ApprovalDecisionTime": "t",
        }
    )
    gate, ssm = gate_for("arn:aws:iam::123456789012:user/alice", decisions=[mine])
    with pytest.raises(CliError, match="you already decided"):
        gate.decide(APPROVAL_ID, "approve", "")
    assert ssm.signals == []


def test_another_documents_automation_is_not_one_of_the_gates():
    gate, ssm = gate_for("arn:aws:iam::123456789012:user/alice")
    ssm.automation["DocumentName"] = "SomeoneElses"
    with pytest.raises(CliError) as refused:
        gate.decide(AUTOMATION_ID, "approve", "")
    assert refused.value.code is ExitCode.NOT_FOUND and "SomeoneElses" in refused.value.message
    assert ssm.signals == []


def test_withdraw_cancels_the_automation():
    gate, ssm = gate_for("arn:aws:iam::123456789012:user/olivia")
    gate.withdraw(EXECUTION)
    assert ssm.stops == [{"AutomationExecutionId": AUTOMATION_ID, "Type": "Cancel"}]


# --- an approval of several stages ---------------------------------------------------------

ENDED_STAGE_AUTOMATION = "0b5c7f5e-2d1a-4c57-9a59-1f1f6d1c2e01"
STAGED = {
    "stages": [
        {"name": "legal", "approvers": ["dave"], "min_required_approvals": 1},
        {
            "name": "security",
            "approvers": ["arn:aws:iam::123456789012:user/alice", "bob", "dave"],
            "min_required_approvals": 2,
        },
        {"name": "release", "approvers": ["carol"], "min_required_approvals": 1},
    ],
    "stage_index": 1,
    "stage_results": [
        {
            "stage": 1,
            "outcome": "Approved",
            "decided_by": [
                {
                    "approver": "arn:aws:iam::123456789012:user/dave",
                    "decision": "Approve",
                    "comment": "legal ok",
                    "decided_at": "2026-11-30T10:05:00+00:00",
                }
            ],
            "automation_execution_id": ENDED_STAGE_AUTOMATION,
        }
    ],
    # The waiting stage's as asked (dave, who approved stage 1, left out).
    "approvers": ["arn:aws:iam::123456789012:user/alice", "bob"],
    "min_required_approvals": 2,
    "message": "Ship release 42",
}
BOB_APPROVED = json.dumps(
    {
        "Approver": "arn:aws:iam::123456789012:user/bob",
        "Decision": "Approve",
        "ApprovalDecisionTime": "2026-11-30T10:07:00+00:00",
    }
)


def staged_gate(caller: str, **changes: Any) -> tuple[Gate, FakeSsm]:
    return gate_for(caller, decisions=[BOB_APPROVED], **(STAGED | changes))


def run_cli(gate: Gate, *args: str) -> Any:
    """The command line on `gate` (no deployment, no credentials)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("approvals_cli.main.Context.gate", property(lambda _: gate))
        patch.setattr("approvals_cli.main.Context.aws", property(lambda _: gate.aws))
        # Wide enough that no line wraps, whatever terminal (or none) runs the tests.
        ran = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "300"})
    assert ran.exit_code == 0, ran.output
    return ran


def test_show_tells_each_stage_its_approvers_outcome_and_deciders():
    gate, _ = staged_gate("arn:aws:iam::123456789012:user/alice")
    shown = json.loads(run_cli(gate, "--json", "show", APPROVAL_ID).output)
    assert [(s["stage"], s["name"], s["state"]) for s in shown["stages"]] == [
        (1, "legal", "Approved"),
        (2, "security", "waiting"),
        (3, "release", "not asked"),
    ]
    legal, security, release = shown["stages"]
    assert [d["comment"] for d in legal["decided_by"]] == ["legal ok"]
    assert legal["automation_execution_id"] == ENDED_STAGE_AUTOMATION
    # The waiting stage: as asked (the record's approvers), with the decisions so far.
    assert security["approvers"] == STAGED["approvers"] and security["min_required_approvals"] == 2
    assert [d["approver"] for d in security["decided_by"]] == ["arn:aws:iam::123456789012:user/bob"]
    assert security["automation_execution_id"] == AUTOMATION_ID
    assert release["decided_by"] == [] and release["automation_execution_id"] is None
    assert shown["approval"]["stage_index"] == 1 and shown["approval"]["stages"][2]["name"]
    steps = [(e["step"], e["what"]) for e in shown["timeline"]]
    assert ("decision", 'stage 1 of 3 (legal): dave: Approve "legal ok"') in steps
    assert ("decision", "stage 2 of 3 (security): bob: Approve") in steps
    [requested] = [what for step, what in steps if step == "requested"]
    assert requested.endswith('"Ship release 42" in 3 stage(s): legal, security, release')

    text = run_cli(gate, "show", APPROVAL_ID).output
    assert f"automation  {AUTOMATION_ID} (Waiting, stage 2 of 3 (security))" in text
    lines = {
        words[1]: line
        for line in text.splitlines()
        if (words := line.split()) and words[0].isdigit()
    }
    assert (
        lines["legal"].endswith('Approved by dave "legal ok"')
        and "dave (quorum 1)" in (lines["legal"])
    )
    assert "alice, bob (quorum 2)" in lines["security"]
    assert lines["security"].endswith("waiting (bob: Approve)")
    assert lines["release"].endswith("not asked")


def test_a_one_stage_approval_shows_no_stages():
    gate, _ = gate_for("arn:aws:iam::123456789012:user/alice", message="m", approvers=["bob"])
    shown = json.loads(run_cli(gate, "--json", "show", APPROVAL_ID).output)
    [requested] = [e["what"] for e in shown["timeline"] if e["step"] == "requested"]
    assert shown["stages"] == [] and requested.endswith('"m" to bob (quorum 1)')
    assert "stage" not in run_cli(gate, "show", APPROVAL_ID).output


def test_an_ended_approval_shows_where_it_stopped():
    gate, _ = staged_gate(
        "arn:aws:iam::123456789012:user/alice", status="CLOSED", closed_reason="ABORTED"
    )
    shown = json.loads(run_cli(gate, "--json", "show", APPROVAL_ID).output)
    assert [s["state"] for s in shown["stages"]] == ["Approved", "closed (ABORTED)", "not asked"]


def test_approving_a_staged_approval_names_the_stage_and_signals_its_automation():
    gate, ssm = staged_gate("arn:aws:iam::123456789012:user/alice")
    text = run_cli(gate, "approve", APPROVAL_ID, "-m", "fine").output
    assert f"Approved approval {APPROVAL_ID} at stage 2 of 3 (security)" in text
    assert "This stage ends once its quorum (2) is reached" in " ".join(text.split())
    done = json.loads(run_cli(gate, "--json", "reject", APPROVAL_ID).output)
    assert done["stage"] == {"number": 2, "count": 3, "name": "security"}
    assert [s["AutomationExecutionId"] for s in ssm.signals] == [AUTOMATION_ID] * 2
    assert [s["SignalType"] for s in ssm.signals] == ["Approve", "Reject"]


def test_a_one_stage_decision_names_no_stage():
    gate, _ = gate_for("arn:aws:iam::123456789012:user/bob")
    done = json.loads(run_cli(gate, "--json", "approve", APPROVAL_ID).output)
    assert done["stage"] is None


def test_a_stranger_to_the_waiting_stage_is_refused_naming_it():
    gate, ssm = staged_gate("arn:aws:iam::123456789012:user/carol")
    with pytest.raises(CliError) as refused:
        gate.decide(APPROVAL_ID, "approve", "")
    assert refused.value.code is ExitCode.REFUSED
    assert f"approval {APPROVAL_ID} at stage 2 of 3 (security)" in refused.value.message
    assert ssm.signals == []


def test_the_automation_of_an_ended_stage_is_not_decided():
    gate, ssm = staged_gate("arn:aws:iam::123456789012:user/alice")
    with pytest.raises(CliError) as refused:
        gate.decide(ENDED_STAGE_AUTOMATION, "approve", "")
    assert refused.value.code is ExitCode.CONFLICT
    assert "asked stage 1 of 3 (legal)" in refused.value.message
    assert "now waits at stage 2 of 3 (security)" in refused.value.message
    assert ssm.signals == []


# --- audit, traces, redrive, policies ---------------------------------------------------------


ROW = {
    "approval_id": "a",
    "requested_at": "t",
    "execution_arn": EXECUTION,
    "requested_by": "arn:aws:iam::123456789012:user/olivia",
    "state_name": "RequestApproval",
    "message": 'Ship, "now"?',
    "approvers": ["alice", "bob"],
    "min_required_approvals": 1,
    "decisions": [
        {"approver": "alice", "decision": "Approve", "comment": "ok", "decided_at": "t2"}
    ],
    "status": "DECIDED",
    "outcome": "Approved",
    "decided_at": "t3",
    "delivery": "DELIVERED",
    "closed_reason": "",
    "automation_execution_id": "x",
}


def test_the_audit_trail_as_jsonl_and_csv():
    assert json.loads(audit.to_jsonl([ROW])) == ROW
    lines = audit.to_csv([ROW]).splitlines()
    assert lines[0].split(",") == list(audit.CSV_COLUMNS)
    assert '"Ship, ""now""?"' in lines[1] and "alice bob" in lines[1]


def test_a_trace_tree_nests_subsegments_sent_on_their_own():
    documents = [
        {
            "id": "s1",
            "name": "gate-receive-result",
            "start_time": 10.0,
            "end_time": 10.2,
            "origin": "AWS::Lambda::Function",
            "subsegments": [
                {
                    "id": "h1",
                    "name": "## lambda_handler",
                    "start_time": 10.01,
                    "end_time": 10.19,
                    "annotations": {"approval_id": "ap-1"},
                }
            ],
        },
        {
            "id": "c1",
            "type": "subsegment",
            "parent_id": "h1",
            "name": "states",
            "start_time": 10.1,
            "end_time": 10.15,
            "namespace": "aws",
            "aws": {"operation": "SendTaskSuccess"},
        },
    ]
    [root] = traces.tree(documents)
    [handler] = root.children
    [call] = handler.children
    assert (call.detail, call.duration_ms) == ("aws SendTaskSuccess", 50.0)
    assert traces._carries(documents, {"approval_id": "ap-1"})
    assert not traces._carries(documents, {"approval_id": "ap-2"})
    expression = traces.filter_expression({"approval_id": "ap-1", "execution_arn": "arn:e"})
    assert expression == 'annotation.approval_id = "ap-1" OR annotation.execution_arn = "arn:e"'


class FakeQueue:
    def __init__(self, bodies: list[str]):
        self.messages = {str(n): body for n, body in enumerate(bodies)}
        self.visibility: list[str] = []

    def receive_message(self, **_: Any) -> dict[str, Any]:
        return {
            "Messages": [
                {"MessageId": k, "ReceiptHandle": k, "Body": v} for k, v in self.messages.items()
            ]
        }

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        del self.messages[ReceiptHandle]

    def change_message_visibility(
        self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> None:
        self.visibility.append(ReceiptHandle)


class FakeLambda:
    def __init__(self, failing: set[str] = frozenset()):  # type: ignore[assignment]
        self.invoked: list[str] = []
        self.failing = failing

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        self.invoked.append(FunctionName)
        failed = FunctionName in self.failing
        return {
            "Payload": io.BytesIO(b'{"ok": true}'),
            **({"FunctionError": "Unhandled"} if failed else {}),
        }


def test_redrive_sends_each_event_to_its_function_and_keeps_what_fails():
    queue = FakeQueue(
        [
            json.dumps({"source": "aws.ssm"}),
            json.dumps({"source": "aws.states"}),
            json.dumps({"source": "other"}),
            "not json",
        ]
    )
    functions = gate_functions("receive", "close")
    dry = redrive(queue, FakeLambda(), "q", functions, dry_run=True)
    assert dry.replayed == 0 and len(dry.messages) == 2 and len(queue.messages) == 4
    assert sorted(queue.visibility) == ["0", "1", "2", "3"]  # visible again for the next run

    lambda_ = FakeLambda(failing={"close"})
    result = redrive(queue, lambda_, "q", functions)
    assert sorted(lambda_.invoked) == ["close", "receive"]
    assert result.replayed == 1 and len(result.failed) == 3
    assert set(queue.messages) == {"1", "2", "3"}


def test_policies_grant_each_role_its_commands_only():
    def actions(role: str) -> set[str]:
        return {a for s in policy(DEPLOYMENT, role)["Statement"] for a in s["Action"]}

    approver, owner, operator = actions("approver"), actions("owner"), actions("operator")
    assert {"dynamodb:Query", "dynamodb:GetItem", "ssm:SendAutomationSignal"} <= approver
    assert "ssm:StopAutomationExecution" not in approver
    assert "ssm:StopAutomationExecution" in owner and "ssm:SendAutomationSignal" not in owner
    assert {"lambda:InvokeFunction", "sqs:ReceiveMessage", "events:DescribeRule"} <= operator
    resources = [r for s in policy(DEPLOYMENT, "approver")["Statement"] for r in s["Resource"]]
    assert (
        "arn:aws:dynamodb:us-east-1:123456789012:table/gate-approvals/index/by_status" in resources
    )
    assert (
        "arn:aws:dynamodb:us-east-1:123456789012:table/gate-approvals/index/pending"
        not in resources
    )
    [reads] = [
        s for s in policy(DEPLOYMENT, "approver")["Statement"] if s["Sid"] == "ReadApprovalRecords"
    ]
    readable = reads["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    assert {"pk", "stages", "stage_index", "stage_started_epoch", "stage_results"} <= set(readable)
    assert "task_token" not in readable


def test_automation_statuses():
    waiting = Automation.from_response(
        {"AutomationExecutionId": "a", "AutomationExecutionStatus": "Waiting"}
    )
    assert waiting.waiting and waiting.min_required_approvals == 1


def test_the_list_prints_aligned_columns_with_long_cells_cut():
    row = {
        "approval_id": APPROVAL_ID,
        "status": "PENDING",
        "outcome": None,
        "message": "Deploy [bold]release[/bold] 42 " + "x" * 100,
        "approvers": ["arn:aws:iam::123456789012:user/alice", "bob"],
        "min_required_approvals": 1,
        "decided_by": [],
        "waiting_seconds": 3725,
        "expires_in_seconds": -5,
        "execution_arn": EXECUTION,
    }
    out = io.StringIO()
    listing.render(Console(file=out, width=300), [row, row | {"status": "DECIDED"}], ("PENDING",))
    header, first, second, count = out.getvalue().splitlines()
    assert header.split() == [
        "ID",
        "STATUS",
        "REQUEST",
        "APPROVERS",
        "DECIDED",
        "WAITING",
        "EXPIRES",
        "IN",
        "WORKFLOW",
    ]
    assert first.index("alice, bob (1 of 2)") == header.index("APPROVERS")
    assert "Deploy [bold]release[/bold] 42 xxx" in first and "x" * 100 not in first
    assert "1h 2m" in first and "expired" in first and first.endswith("release-42")
    assert second.index("DECIDED") == first.index("PENDING") and count == "2 approval(s)"


ESCALATION_ID = "5e5c7f5e-2d1a-4c57-9a59-1f1f6d1c2e99"


def test_an_escalation_approver_decides_on_the_escalation_automation():
    gate, ssm = staged_gate(
        "arn:aws:iam::123456789012:user/erin", escalation_automation_execution_id=ESCALATION_ID
    )
    ssm.others[ESCALATION_ID] = ssm.automation | {
        "AutomationExecutionId": ESCALATION_ID,
        "Parameters": {
            "ApprovalId": [APPROVAL_ID],
            "Approvers": ["erin"],
            "MinRequiredApprovals": ["1"],
            "Stage": ["2/3 escalation"],
        },
        "StepExecutions": [{"Outputs": {"ApproverDecisions": []}}],
    }

    gate.decide(APPROVAL_ID, "approve", "on call")

    assert [s["AutomationExecutionId"] for s in ssm.signals] == [ESCALATION_ID]
    # The stage's own approvers still decide on theirs.
    alice, ssm = staged_gate(
        "arn:aws:iam::123456789012:user/alice", escalation_automation_execution_id=ESCALATION_ID
    )
    alice.decide(APPROVAL_ID, "approve", "")
    assert [s["AutomationExecutionId"] for s in ssm.signals] == [AUTOMATION_ID]
