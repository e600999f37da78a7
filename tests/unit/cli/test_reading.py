"""Reading what AWS answers: records, automations and their decisions, approver matching."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeSerializer

from approvals_cli.approvers import may_decide, short_name
from approvals_cli.automations import Automation, decisions_of
from approvals_cli.aws import Caller
from approvals_cli.errors import ExitCode
from approvals_cli.gate import wait_exit_code
from approvals_cli.records import ATTRIBUTES, STAGE_ATTRIBUTES, Approval, Records

ACCOUNT = "123456789012"
ALICE = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT)
SESSION = Caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/Approver/alice-laptop", ACCOUNT)


@pytest.mark.parametrize(
    ("caller", "entry", "expected"),
    [
        (ALICE, f"arn:aws:iam::{ACCOUNT}:user/alice", True),
        (ALICE, "alice", True),
        (ALICE, f"arn:aws:iam::{ACCOUNT}:user/team/alice", True),
        (ALICE, "bob", False),
        (ALICE, "arn:aws:iam::999999999999:user/alice", False),
        (ALICE, f"arn:aws:iam::{ACCOUNT}:role/alice", False),
        (SESSION, f"arn:aws:iam::{ACCOUNT}:role/Approver", True),
        (SESSION, f"arn:aws:iam::{ACCOUNT}:role/teams/Approver", True),
        (SESSION, SESSION.arn, True),
        (SESSION, f"arn:aws:iam::{ACCOUNT}:role/Other", False),
        (SESSION, "Approver", False),
    ],
)
def test_approvers_match_as_widely_as_ssm_may(caller, entry, expected):
    assert may_decide(caller, entry) is expected


def test_short_names():
    assert short_name(ALICE.arn) == "alice"
    assert short_name(SESSION.arn) == "Approver/alice-laptop"


def test_decisions_in_every_shape_ssm_may_write_them():
    one = {"Approver": "a", "Decision": "Approved", "Comment": "ok", "ApprovalDecisionTime": "t1"}
    two = {"Approver": "b", "Decision": "Reject", "ApprovalDecisionTime": "t2"}
    per_map = decisions_of({"ApproverDecisions": [json.dumps(one), json.dumps(two)]})
    as_array = decisions_of({"ApproverDecisions": [json.dumps([one, two])]})
    assert per_map == as_array
    assert [(d.approver, d.decision, d.comment) for d in per_map] == [
        ("a", "Approve", "ok"),
        ("b", "Reject", ""),
    ]
    assert decisions_of({"ApproverDecisions": ["not json"]}) == []


def test_an_automation_joins_its_message_parts_and_reads_its_quorum():
    automation = Automation.from_response(
        {
            "AutomationExecutionId": "auto-1",
            "DocumentName": "Gate-Approval",
            "AutomationExecutionStatus": "Waiting",
            "Parameters": {
                "ApprovalId": ["ap-1"],
                "Message": ["a" * 512],
                "Message2": ["b"],
                "Approvers": ["alice", "bob"],
                "MinRequiredApprovals": ["2"],
            },
            "StepExecutions": [{"Outputs": {}}],
        }
    )
    assert automation.message == "a" * 512 + "b"
    assert (automation.approvers, automation.min_required_approvals) == (["alice", "bob"], 2)
    assert automation.waiting and not automation.final
    assert Automation.from_response(
        {"AutomationExecutionId": "x", "AutomationExecutionStatus": "TimedOut"}
    ).final


def _item(**values):
    return {k: TypeSerializer().serialize(v) for k, v in values.items()}


def test_a_record_reads_without_its_token_and_with_numbers_as_ints():
    approval = Approval.from_item(
        _item(
            approval_id="ap-1",
            execution_arn="arn:e",
            status="PENDING",
            requested_at="2026-11-30T10:00:00+00:00",
            requested_epoch=Decimal(1764496800),
            min_required_approvals=Decimal(2),
            approvers=["alice", "bob"],
            task_token="secret",  # never asked for; ignored if it came
        )
    )
    assert approval.requested_epoch == 1764496800 and approval.min_required_approvals == 2
    assert approval.has_request and "secret" not in json.dumps(approval.to_json())
    assert "task_token" not in ATTRIBUTES


def test_a_staged_record_reads_its_stages_with_numbers_as_ints():
    approval = Approval.from_item(
        _item(
            approval_id="ap-1",
            execution_arn="arn:e",
            status="PENDING",
            requested_at="t",
            requested_epoch=Decimal(1),
            stages=[
                {"name": "legal", "approvers": ["dave"], "min_required_approvals": Decimal(1)},
                {"name": "security", "approvers": ["bob"], "min_required_approvals": Decimal(1)},
            ],
            stage_index=Decimal(1),
            stage_started_epoch=Decimal(1764497100),
            stage_results=[{"stage": Decimal(1), "outcome": "Approved", "decided_by": []}],
        )
    )
    assert (approval.stage_index, approval.stage_started_epoch) == (1, 1764497100)
    assert approval.stages[0]["min_required_approvals"] == 1
    assert approval.stage_results[0]["stage"] == 1
    assert approval.staged and approval.stage == "stage 2 of 2 (security)"
    assert approval.waiting_stage["name"] == "security"
    one_stage = Approval("a", "e", "PENDING", "", 0)
    assert not one_stage.staged and one_stage.stage == "" and one_stage.waiting_stage == {}


def test_a_record_is_read_with_its_stages_but_the_status_index_without():
    """`by_status` does not project the stages: they are read by GetItem (and `by_execution`,
    which projects every attribute)."""

    class Recording:
        def __init__(self):
            self.requests = []

        def get_item(self, **request):
            self.requests.append(request)
            return {}

        def query(self, **request):
            self.requests.append(request)
            return {"Items": []}

    dynamodb = Recording()
    records = Records(dynamodb, "t")
    records.get("ap-1")
    records.of_execution("arn:e")
    list(records.by_status(("PENDING",)))
    got, of_execution, by_status = (
        set(r["ExpressionAttributeNames"].values()) for r in dynamodb.requests
    )
    assert set(STAGE_ATTRIBUTES) <= got and set(STAGE_ATTRIBUTES) <= of_execution
    assert not set(STAGE_ATTRIBUTES) & by_status and "approvers" in by_status


@pytest.mark.parametrize(
    ("status", "outcome", "callback", "code"),
    [
        ("DECIDED", "Approved", "DELIVERED", ExitCode.OK),
        ("DECIDED", "Rejected", "DELIVERED", ExitCode.REJECTED),
        ("DECIDED", "Expired", "DELIVERED", ExitCode.EXPIRED),
        ("DECIDED", "Cancelled", "DELIVERED", ExitCode.CANCELLED),
        ("DECIDED", "Failed", "DELIVERED", ExitCode.NOT_DECIDED),
        ("DECIDED", "NotStarted", "DELIVERED", ExitCode.NOT_DECIDED),
        ("DECIDED", "Approved", "REFUSED", ExitCode.CANCELLED),
        ("CLOSED", None, None, ExitCode.CANCELLED),
    ],
)
def test_wait_exits_with_the_outcome(status, outcome, callback, code):
    approval = Approval("a", "e", status, "", 0, outcome=outcome, callback=callback)
    assert approval.finished
    assert wait_exit_code(approval) is code


def test_a_callback_under_way_is_not_finished():
    assert not Approval("a", "e", "DECIDED", "", 0, outcome="Approved", callback="SENDING").finished
    assert not Approval("a", "e", "PENDING", "", 0).finished


class FakeDynamoDB:
    """Query by status on pages of two, as the index would answer (newest first)."""

    def __init__(self, by_status):
        self.by_status = by_status
        self.queries = []

    def query(self, **request):
        self.queries.append(request)
        status = request["ExpressionAttributeValues"][":s"]["S"]
        since = int(request["ExpressionAttributeValues"].get(":since", {"N": "0"})["N"])
        items = sorted((e for e in self.by_status.get(status, []) if e >= since), reverse=True)
        start = request.get("ExclusiveStartKey", {}).get("n", 0)
        page = items[start : start + 2]
        answer = {
            "Items": [
                _item(
                    approval_id=f"{status}-{e}",
                    execution_arn="e",
                    status=status,
                    requested_at="",
                    requested_epoch=e,
                )
                for e in page
            ]
        }
        if start + 2 < len(items):
            answer["LastEvaluatedKey"] = {"n": start + 2}
        return answer


def test_statuses_are_merged_newest_first_and_read_only_as_far_as_needed():
    dynamodb = FakeDynamoDB({"PENDING": [1, 4, 6, 9], "DECIDED": [2, 5, 7, 8], "CLOSED": [3]})
    records = Records(dynamodb, "t")
    found = list(records.by_status(("PENDING", "DECIDED", "CLOSED"), limit=3))
    assert [a.requested_epoch for a in found] == [9, 8, 7]
    assert len(dynamodb.queries) <= 4  # not every page of every status
    every = list(records.by_status(("PENDING", "DECIDED"), since_epoch=5))
    assert [a.requested_epoch for a in every] == [9, 8, 7, 6, 5]
    assert all(
        q["IndexName"] == "by_status" and q["ScanIndexForward"] is False for q in dynamodb.queries
    )
    assert all("task_token" not in q["ExpressionAttributeNames"].values() for q in dynamodb.queries)
