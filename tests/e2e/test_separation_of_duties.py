"""Separation of duties through the gate deployed by Terraform into the local AWS (the
module's prevent_self_approval, on by default): a requester listed as an approver is left
out of the automation's approvers, so SSM refuses their own signal and another approver
decides; a request left short of its quorum fails the workflow with
ApprovalPolicyUnsatisfiable, asking nobody."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.terraform


def test_the_requester_is_not_asked_and_cannot_approve_their_own_request(gate):
    alice, bob = gate.principal_arn("alice"), gate.principal_arn("bob")
    execution_arn = gate.start(
        {"message": "Deploy 1.2?", "approvers": [alice, bob], "requested_by": alice}
    )
    automation_id = gate.automation_of(execution_arn)
    parameters = gate.client("ssm").get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]["Parameters"]
    assert parameters["Approvers"] == [bob]
    assert f"Requested by {alice}." in "".join(
        value[0] for name, value in parameters.items() if name.startswith("Message")
    )

    with pytest.raises(ClientError) as refused:
        gate.decide("alice", automation_id, "Approve", "my own change")
    assert refused.value.response["Error"]["Code"] in (
        "InvalidAutomationSignalException",
        "AccessDeniedException",
    )
    gate.decide("bob", automation_id, "Approve", "reviewed")

    execution = gate.finished(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    approval = json.loads(execution["output"])["approval"]
    assert [d["approver"] for d in approval["decided_by"]] == [bob]
    [record] = gate.records_of(execution_arn)
    assert record["requested_by"] == alice


def test_a_request_only_its_requester_could_approve_fails_by_name(gate):
    alice = gate.principal_arn("alice")
    execution_arn = gate.start(
        {"message": "Deploy 1.3?", "approvers": [alice], "requested_by": alice}
    )
    execution = gate.finished(execution_arn)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ApprovalPolicyUnsatisfiable"
    assert "may not approve their own request" in execution["cause"]
    assert gate.records_of(execution_arn) == []  # nothing stored, nobody asked
