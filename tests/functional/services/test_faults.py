"""The approval lifecycle under the faults real deployments meet: duplicated and reordered
events, throttled AWS calls, a concurrency limit, a crash half-way through a delivery."""

from __future__ import annotations

import json
import random

import pytest

import sandbox
from approval_core.records import ApprovalRecords
from start_approval.errors import ApprovalConcurrencyLimitExceeded, ApprovalStartThrottled


def callbacks_of(gate, execution_arn: str) -> list[str]:
    history = gate.sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [e["type"] for e in history if e["type"] in ("TaskSucceeded", "TaskFailed")]


def start_many(gate, start_handler, context, count: int, **request) -> list:
    started = []
    for n in range(count):
        body = {"message": f"change {n}", "approvers": [gate.principal("alice")]} | request
        workflow = gate.start_workflow(body)
        started.append((workflow, start_handler(workflow.payload, context)))
    return started


def test_every_event_twice_and_three_in_reverse_order_give_one_callback_each(
    gate, start_handler, receive_handler, context
):
    started = start_many(gate, start_handler, context, 5)
    for n, (_, reply) in enumerate(started):
        gate.signal("alice", reply["automation_execution_id"], "Approve" if n % 2 else "Reject")
    events = gate.result_events()
    assert len(events) == 5

    deliveries = events + events  # every event delivered twice
    deliveries[:3] = reversed(deliveries[:3])  # and three of them out of order
    for event in deliveries:
        receive_handler(event, context)

    for n, (workflow, _) in enumerate(started):
        execution = gate.execution(workflow.execution_arn)
        assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]
        decision = json.loads(execution["output"])["approval"]["decision"]
        assert decision == ("Approved" if n % 2 else "Rejected")


def test_with_30_percent_of_ssm_and_step_functions_calls_throttled_every_approval_completes(
    gate, start_handler, receive_handler, context
):
    """Each failed call is retried as the deployment retries it: the SDK's own retries, then
    the workflow's Retry (start) or EventBridge's redelivery (result)."""
    for service, operations in {
        "ssm": ("StartAutomationExecution", "GetAutomationExecution"),
        "stepfunctions": ("SendTaskSuccess",),
    }.items():
        for operation in operations:
            sandbox.faults.inject(
                service, operation, "ThrottlingException", probability=0.3, seed=7
            )

    def retried(call, *args, attempts: int = 10):
        for _ in range(attempts - 1):
            try:
                return call(*args)
            except ApprovalStartThrottled:
                continue  # the workflow's Retry on ApprovalStartThrottled
            except Exception as error:  # a throttled result delivery: EventBridge retries
                if "Throttling" not in str(error):
                    raise
        return call(*args)

    workflows = []
    for n in range(8):
        workflow = gate.start_workflow({"message": f"m{n}", "approvers": [gate.principal("alice")]})
        reply = retried(start_handler, workflow.payload, context)
        workflows.append((workflow, reply, random.Random(n).choice(["Approve", "Reject"])))
    for _, reply, signal in workflows:
        gate.signal("alice", reply["automation_execution_id"], signal)
    for event in gate.result_events():
        retried(receive_handler, event, context)

    assert any(fault.injected for fault in sandbox.faults.active())
    for workflow, _, signal in workflows:
        decision = json.loads(gate.execution(workflow.execution_arn)["output"])["approval"]
        assert decision["decision"] == ("Approved" if signal == "Approve" else "Rejected")
        assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]
    assert len(gate.automations()) == 8


def automation_status(gate, automation_id: str) -> str:
    return gate.ssm.get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]["AutomationExecutionStatus"]


def test_a_burst_over_the_concurrency_quota_queues_and_completes_once_capacity_frees(
    gate, start_handler, receive_handler, sweep_approvals_handler, context
):
    """Past the quota SSM accepts a new automation and keeps it Pending (no step, no email)
    until a slot frees (docs/aws-behaviour.md#ssm-automation-concurrency-queue); the sweep
    counts those, and each one starts and is decided once capacity frees."""
    sandbox.settings.max_concurrent_executions = 3
    started = start_many(gate, start_handler, context, 6)
    statuses = [automation_status(gate, r["automation_execution_id"]) for _, r in started]
    assert statuses == ["Waiting"] * 3 + ["Pending"] * 3

    report = sweep_approvals_handler({}, context)
    assert (report["pending"], report["queued"], report["not_started"]) == (6, 3, [])

    # The first approvals end, slots free, the queued automations start and ask in turn.
    for _, reply in started:
        assert automation_status(gate, reply["automation_execution_id"]) == "Waiting"
        gate.signal("alice", reply["automation_execution_id"], "Approve")
    for event in gate.result_events():
        receive_handler(event, context)
    for workflow, _ in started:
        assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"
        assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]
    assert sweep_approvals_handler({}, context)["queued"] == 0


def test_past_the_queue_the_start_is_refused_by_name_and_retried_later(
    gate, start_handler, receive_handler, context
):
    sandbox.settings.max_concurrent_executions = 1
    sandbox.settings.automation_queue_size = 1
    (first, first_reply), (second, second_reply) = start_many(gate, start_handler, context, 2)
    refused = gate.start_workflow({"message": "m", "approvers": [gate.principal("alice")]})
    with pytest.raises(ApprovalConcurrencyLimitExceeded):
        start_handler(refused.payload, context)

    gate.signal("alice", first_reply["automation_execution_id"], "Approve")
    retried = start_handler(refused.payload, context)  # the workflow's Retry: queued now
    for reply in (second_reply, retried):
        gate.signal("alice", reply["automation_execution_id"], "Approve")
    for event in gate.result_events():
        receive_handler(event, context)
    for workflow in (first, second, refused):
        assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"


def test_a_crash_between_the_callback_and_the_record_update_neither_repeats_nor_sticks(
    gate, start_handler, receive_handler, context, monkeypatch
):
    workflow = gate.start_workflow({"message": "m", "approvers": [gate.principal("alice")]})
    reply = start_handler(workflow.payload, context)
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    [event] = gate.result_events()

    finish = ApprovalRecords.finish_callback

    def crash_once(self, *args, **kwargs):
        monkeypatch.setattr(ApprovalRecords, "finish_callback", finish)
        raise RuntimeError("the function crashed after the callback")

    monkeypatch.setattr(ApprovalRecords, "finish_callback", crash_once)
    with pytest.raises(RuntimeError, match="crashed"):
        receive_handler(event, context)
    assert gate.record(reply["approval_id"])["callback"]["S"] == "SENDING"

    receive_handler(event, context)  # Lambda's retry of the same event
    record = gate.record(reply["approval_id"])
    assert record["status"]["S"] == "DECIDED"
    assert record["callback"]["S"] != "SENDING"
    assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"
    assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]
