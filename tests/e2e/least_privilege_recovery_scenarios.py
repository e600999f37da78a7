"""The gate's recoveries, as scenarios of tests/e2e/test_least_privilege.py (listed in
least_privilege_scenarios.py; the run: least_privilege_run.py): a dead-lettered event and its
redrive, a start retried or delivered twice, a workflow that ends while its approval starts,
and the same two for an approval's next stage."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from approvals_cli.redrive import gate_functions, redrive
from sandbox.ssm import automation as ssm_automation
from scripts.local_gate import LocalGate
from tests.e2e.least_privilege_run import Run

# In a request's body, the key of an approval record: a fault narrowed to it fails the
# records' writes and leaves the pacing's slots (approval_core.pacing) alone.
RECORD_KEY = '"approval#'


@contextlib.contextmanager
def _fault(
    gate: LocalGate, service: str, operation: str, error_code: str, **narrowed: Any
) -> Iterator[None]:
    """`narrowed`: more of the fault's fields (body_contains, times)."""
    gate.aws.api(
        "/moto-api/sandbox/faults",
        {"service": service, "operation": operation, "error_code": error_code} | narrowed,
    )
    try:
        yield
    finally:
        gate.aws.api("/moto-api/sandbox/faults", method="DELETE")


def _drain(gate: LocalGate) -> None:
    """Empties the dead-letter queue: what earlier runs left there is not this run's."""
    sqs, queue = gate.client("sqs"), gate.outputs["dead_letter_queue_url"]
    while messages := sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def _dead_lettered(run: Run, marker: str, what: str) -> None:
    sqs, queue = run.gate.client("sqs"), run.gate.outputs["dead_letter_queue_url"]

    def arrived() -> bool:
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return any(marker in m["Body"] for m in messages)

    run.wait(arrived, f"{what} did not reach the dead-letter queue")


def _redrive(run: Run) -> None:

    gate = run.gate
    functions = gate_functions(
        gate.outputs["receive_result_alias_arn"], gate.outputs["close_approvals_alias_arn"]
    )
    result = redrive(
        gate.client("sqs"), gate.client("lambda"), gate.outputs["dead_letter_queue_url"], functions
    )
    run.check(result.failed == [] and result.replayed >= 1, f"the redrive did not replay: {result}")


def a_dead_lettered_result_and_its_redrive(run: Run) -> None:
    """receive_result keeps failing (the table refuses its writes): after Lambda's retries
    the event is kept in the dead-letter queue; after the fix the redrive delivers it."""
    gate = run.gate
    _drain(gate)
    execution_arn = run.start("least privilege: the result is dead-lettered")
    automation = run.waiting_automation(execution_arn)
    # The approval records' writes only (not the pacing's slots of SSM's rate).
    with _fault(
        gate, "dynamodb", "UpdateItem", "ResourceNotFoundException", body_contains=RECORD_KEY
    ):
        gate.decide("alice", automation, "Approve", "fine")
        _dead_lettered(run, automation, f"the result event of {automation}")
    _redrive(run)
    run.approved_by(execution_arn, "alice")


def a_dead_lettered_workflow_end_and_its_redrive(run: Run) -> None:
    """close_approvals keeps failing (SSM refuses the cancel): the workflow's end is kept in
    the dead-letter queue; after the fix the redrive closes the approval."""
    gate = run.gate
    _drain(gate)
    execution_arn = run.start("least privilege: the workflow end is dead-lettered")
    automation = run.waiting_automation(execution_arn)
    with _fault(gate, "ssm", "StopAutomationExecution", "ValidationException"):
        gate.client("stepfunctions").stop_execution(executionArn=execution_arn)
        _dead_lettered(run, execution_arn, f"the end of {execution_arn}")
    _redrive(run)
    run.check(
        run.automation_status(automation) == "Cancelled",
        f"the redrive did not cancel the automation {automation}",
    )


def _invoke_start_approval(gate: LocalGate, payload: dict[str, Any]) -> dict[str, Any]:
    response = gate.client("lambda").invoke(
        FunctionName=gate.outputs["start_approval_alias_arn"], Payload=json.dumps(payload)
    )
    return {
        "error": response.get("FunctionError"),
        "reply": json.loads(response["Payload"].read() or b"null"),
    }


def _start_payload(gate: LocalGate, message: str) -> dict[str, Any]:
    """What the state machine's Task sends start_approval, for an execution of its own."""
    return {
        "task_token": "token-of-the-first-attempt",
        "execution_arn": (
            "arn:aws:states:us-east-1:123456789012:execution:approval-workflow:"
            f"direct-{uuid.uuid4().hex[:8]}"
        ),
        "state_name": "RequestApproval",
        "state_entered_time": "2026-11-28T08:00:00.000Z",
        "request": {"message": message, "approvers": [gate.principal_arn("alice")]},
    }


def _start_whose_record_update_fails(
    gate: LocalGate, message: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """start_approval invoked while the next DynamoDB UpdateItem fails: (payload, answer).
    The fault fails the next UpdateItem of any caller: a late delivery of an earlier scenario
    may take it first. Then this start succeeded, and a new one tries again."""
    for attempt in range(3):
        payload = _start_payload(gate, f"{message} ({attempt})" if attempt else message)
        gate.aws.api(
            "/moto-api/sandbox/faults",
            {
                "service": "dynamodb",
                "operation": "UpdateItem",
                "error_code": "ResourceNotFoundException",
                "times": 1,
                "body_contains": RECORD_KEY,  # the record's update, not a pacing slot's
            },
        )
        try:
            first = _invoke_start_approval(gate, payload)
        finally:
            gate.aws.api("/moto-api/sandbox/faults", method="DELETE")
        if first["error"] is not None:
            break
    return payload, first


def _automations_of(gate: LocalGate, approval_id: str) -> list[str]:
    """The ids of the automations SSM holds for one approval (the gate tags each one)."""
    found = gate.client("ssm").describe_automation_executions(
        Filters=[{"Key": "TagKey", "Values": [f"approval-gate:approval:{approval_id}"]}]
    )["AutomationExecutionMetadataList"]
    return [a["AutomationExecutionId"] for a in found]


@contextlib.contextmanager
def _ssm_refuses_a_reused_client_token(gate: LocalGate) -> Iterator[None]:
    """The local AWS answers a reused ClientToken with IdempotentParameterMismatch (one of the
    variants, docs/aws-behaviour.md#undocumented-client-token-reuse), then as before."""
    previous = gate.aws.api("/moto-api/sandbox/settings", method="GET")["sandbox"]
    gate.aws.api(
        "/moto-api/sandbox/settings",
        {"sandbox": {"client_token_reuse": "idempotent_parameter_mismatch"}},
    )
    try:
        yield
    finally:
        gate.aws.api(
            "/moto-api/sandbox/settings",
            {"sandbox": {"client_token_reuse": previous["client_token_reuse"]}},
        )


def a_retried_start_that_ssm_refuses(run: Run) -> None:
    """start_approval started the automation, then failed to record it; SSM answers the
    retry's reused ClientToken with IdempotentParameterMismatch (one of the variants,
    docs/aws-behaviour.md#undocumented-client-token-reuse): the retry finds the automation
    by its tag and reuses it."""
    gate = run.gate
    with _ssm_refuses_a_reused_client_token(gate):
        payload, first = _start_whose_record_update_fails(gate, "least privilege: a retried start")
        run.check(
            first["error"] is not None,
            f"the first attempt should fail to record its automation: {first}",
        )
        retry = _invoke_start_approval(gate, payload | {"task_token": "token-of-the-retry"})
    run.check(retry["error"] is None, f"the retried start failed: {retry['reply']}")
    approval_id = retry["reply"]["approval_id"]
    tagged = _automations_of(gate, approval_id)
    run.check(
        tagged == [retry["reply"]["automation_execution_id"]],
        f"the retry did not reuse the one automation of approval {approval_id}: {tagged}",
    )
    with contextlib.suppress(ClientError):
        gate.client("ssm").stop_automation_execution(
            AutomationExecutionId=retry["reply"]["automation_execution_id"], Type="Cancel"
        )


@contextlib.contextmanager
def held_automation_start(
    timeout: float = 30.0,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """SSM holds the next StartAutomationExecution (after IAM allowed it) until `release`
    is set: a slow start, during which the workflow can end. Yields (entered, release)."""
    original = ssm_automation.start_execution
    entered, release = threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        if not entered.is_set():
            entered.set()
            release.wait(timeout)
        return original(*args, **kwargs)

    ssm_automation.start_execution = held  # type: ignore[assignment]
    try:
        yield entered, release
    finally:
        release.set()
        ssm_automation.start_execution = original  # type: ignore[assignment]


def _stopped_while_starting(
    run: Run,
    execution_arn: str,
    entered: threading.Event,
    release: threading.Event,
    starter: str,
) -> None:
    """Once `starter` is in SSM's (held) start, the workflow is stopped and close_approvals
    closes its record; then SSM finishes the start."""
    run.wait(entered.is_set, f"{starter} did not start the automation")
    run.gate.client("stepfunctions").stop_execution(executionArn=execution_arn)
    run.wait(
        lambda: (r := run.record_of(execution_arn)) and r["status"] == "CLOSED",
        "the record of the stopped workflow was not closed",
    )
    release.set()


def a_workflow_that_ends_while_its_approval_starts(run: Run) -> None:
    """The workflow is stopped while SSM is starting its automation: close_approvals closes
    the record (no automation yet), so start_approval cancels the automation it started."""
    with held_automation_start() as (entered, release):
        execution_arn = run.start("least privilege: stopped while the approval starts")
        _stopped_while_starting(run, execution_arn, entered, release, "start_approval")
        record = run.wait(
            lambda: (r := run.record_of(execution_arn)) and r.get("automation_execution_id") and r,
            "start_approval did not record the automation it started",
        )
    automation = record["automation_execution_id"]
    run.wait(
        lambda: run.automation_status(automation) == "Cancelled",
        f"start_approval did not cancel the automation {automation} of its ended workflow",
    )


def the_same_start_twice(run: Run) -> None:
    """Lambda delivers one start twice (the same task token): the second finds the record
    and answers with the first's approval and automation, starting nothing."""
    gate = run.gate
    payload = _start_payload(gate, "least privilege: the same start twice")
    first = _invoke_start_approval(gate, payload)
    second = _invoke_start_approval(gate, payload)
    run.check(
        first["error"] is None
        and second["error"] is None
        and second["reply"] == first["reply"] | {"created": False},
        f"the same start twice got different answers: {first} and {second}",
    )
    with contextlib.suppress(ClientError):
        gate.client("ssm").stop_automation_execution(
            AutomationExecutionId=first["reply"]["automation_execution_id"], Type="Cancel"
        )


def a_failed_start_delivered_again(run: Run) -> None:
    """start_approval fails after starting the automation (its record update fails), then
    gets the same invocation again: the automation is reused (ClientToken)."""
    gate = run.gate
    payload, first = _start_whose_record_update_fails(
        gate, "least privilege: a failed start delivered again"
    )
    run.check(first["error"] is not None, f"the first attempt should fail: {first}")
    again = _invoke_start_approval(gate, payload)
    run.check(again["error"] is None, f"the same start again failed: {again['reply']}")
    with contextlib.suppress(ClientError):
        gate.client("ssm").stop_automation_execution(
            AutomationExecutionId=again["reply"]["automation_execution_id"], Type="Cancel"
        )


def two_stages(run: Run, message: str) -> str:
    """A workflow that asks alice (stage change), then bob (stage security)."""
    gate = run.gate
    return run.start_request(
        {
            "message": message,
            "stages": [
                {"name": "change", "approvers": [gate.principal_arn("alice")]},
                {"name": "security", "approvers": [gate.principal_arn("bob")]},
            ],
        }
    )


def a_retried_next_stage_start_that_ssm_refuses(run: Run) -> None:
    """alice approves stage 1; receive_result starts stage 2's automation, then fails to
    move the record on to it; Lambda's retry starts it again with the same ClientToken, which
    SSM refuses (IdempotentParameterMismatch): the retry finds the automation by its tags and
    moves the record on to it. One stage-2 automation, asked once."""
    gate = run.gate
    execution_arn = two_stages(run, "least privilege: a retried next-stage start")
    first = run.waiting_automation(execution_arn)
    with (
        _ssm_refuses_a_reused_client_token(gate),
        # The record's move to the next stage (advance_stage), once.
        _fault(
            gate,
            "dynamodb",
            "UpdateItem",
            "ResourceNotFoundException",
            times=1,
            body_contains="SET stage_index = :next",
        ),
    ):
        gate.decide("alice", first, "Approve", "the change is fine")
        second = run.waiting_automation(execution_arn, after=first)
    approval_id = (run.record_of(execution_arn) or {})["approval_id"]
    stage_two = [a for a in _automations_of(gate, approval_id) if a != first]
    run.check(
        stage_two == [second], f"stage 2 of {approval_id} started more than once: {stage_two}"
    )
    with contextlib.suppress(ClientError):
        gate.client("ssm").stop_automation_execution(AutomationExecutionId=second, Type="Cancel")


def a_workflow_that_ends_while_its_next_stage_starts(run: Run) -> None:
    """alice approves stage 1; while SSM starts stage 2's automation, the workflow is
    stopped: close_approvals closes the record, so receive_result cancels the automation it
    started for stage 2."""
    gate = run.gate
    execution_arn = two_stages(run, "least privilege: stopped while the next stage starts")
    first = run.waiting_automation(execution_arn)
    with held_automation_start() as (entered, release):
        gate.decide("alice", first, "Approve", "the change is fine")
        _stopped_while_starting(run, execution_arn, entered, release, "receive_result")
    approval_id = (run.record_of(execution_arn) or {})["approval_id"]

    def stage_two() -> str | None:
        later = [a for a in _automations_of(gate, approval_id) if a != first]
        return later[0] if later else None

    second = run.wait(stage_two, "receive_result did not start the next stage")
    run.wait(
        lambda: run.automation_status(second) == "Cancelled",
        f"receive_result did not cancel stage 2's automation {second} of its ended workflow",
    )
