"""The gate's scenarios for tests/e2e/test_least_privilege.py: short flows through the
deployed gate, each checking everything it needs the gate's roles for (the outcome, the
approvers' notification, each function's log lines and X-Ray segments).

A scenario raises ScenarioFailed on the first expectation that does not hold. Every wait is
bounded; when the run expects an IAM denial (a statement removed), a wait also gives up a
short grace after that denial was recorded, so a broken scenario fails in seconds, not at
its full patience.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

import sandbox.iam
from sandbox import xray
from sandbox.ssm import automation as ssm_automation
from scripts.local_gate import LocalGate
from tests.support.sandbox_account import STEP_EVENT

# How long a scenario waits for one expectation with every permission in place.
PATIENCE_SECONDS = 45.0
# How long a wait goes on after the expected denial was recorded: Lambda's retries of an
# asynchronous invocation come 1 s and 2 s apart in the local AWS, so 4 s covers them.
GRACE_AFTER_DENIAL_SECONDS = 4.0


class ScenarioFailed(AssertionError):
    """The scenario's expectation `what` did not hold."""


@dataclass(frozen=True)
class ExpectedDenial:
    """A denial the run expects: for a session of `role_name`, one of `actions`."""

    role_name: str
    actions: frozenset[str]

    def matches(self, denial: dict[str, str]) -> bool:
        return (
            f":assumed-role/{self.role_name}/" in denial["principal"]
            and denial["action"].lower() in self.actions
        )

    def found(self) -> list[dict[str, str]]:
        return [d for d in sandbox.iam.denials() if self.matches(d)]


@dataclass
class Run:
    """One run of a scenario: the gate, what it started (stopped afterwards), the waits."""

    gate: LocalGate
    expected: ExpectedDenial | None = None
    executions: list[str] = field(default_factory=list)
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    _denied_at: float | None = None

    def wait(self, probe: Callable[[], Any], what: str, timeout: float = PATIENCE_SECONDS) -> Any:
        """`probe()`'s first truthy result, polled every 0.2 s; ScenarioFailed(`what`) after
        `timeout`, or after the grace once the expected denial was recorded."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result:
                return result
            now = time.monotonic()
            if self.expected is not None and self._denied_at is None and self.expected.found():
                self._denied_at = now
            if self._denied_at is not None and now - self._denied_at > GRACE_AFTER_DENIAL_SECONDS:
                raise ScenarioFailed(f"{what} (IAM denied {self.expected})")
            if now > deadline:
                raise ScenarioFailed(f"{what} within {timeout:.0f} s")
            time.sleep(0.2)

    def check(self, holds: bool, what: str) -> None:
        if not holds:
            raise ScenarioFailed(what)

    # The workflow owner
    def start(self, message: str, *approvers: str) -> str:
        request = {
            "message": message,
            "approvers": [self.gate.principal_arn(a) for a in approvers or ("alice",)],
        }
        execution_arn = self.gate.start(request)
        self.executions.append(execution_arn)
        return execution_arn

    def record_of(self, execution_arn: str) -> dict[str, Any] | None:
        records = self.gate.records_of(execution_arn)
        return records[0] if len(records) == 1 else None

    def waiting_automation(self, execution_arn: str) -> str:
        """The automation of the execution's approval once it waits for approvers."""

        def waiting() -> str | None:
            record = self.record_of(execution_arn) or {}
            automation = record.get("automation_execution_id")
            if automation and self.automation_status(automation) == "Waiting":
                return automation
            return None

        return self.wait(waiting, f"no approval of {execution_arn} waits for approvers")

    def automation_status(self, automation_id: str) -> str:
        return self.gate.client("ssm").get_automation_execution(
            AutomationExecutionId=automation_id
        )["AutomationExecution"]["AutomationExecutionStatus"]

    def ended(self, execution_arn: str) -> dict[str, Any]:
        sfn = self.gate.client("stepfunctions")

        def done() -> dict[str, Any] | None:
            described = sfn.describe_execution(executionArn=execution_arn)
            return described if described["status"] != "RUNNING" else None

        return self.wait(done, f"{execution_arn} did not end")

    def approved_by(self, execution_arn: str, approver: str) -> None:
        execution = self.ended(execution_arn)
        self.check(
            execution["status"] == "SUCCEEDED",
            f"{execution_arn} ended {execution['status']} ({execution.get('error')}), "
            "not SUCCEEDED",
        )
        approval = json.loads(execution["output"])["approval"]
        self.check(
            approval["decision"] == "Approved"
            and [d["approver"] for d in approval["decided_by"]]
            == [self.gate.principal_arn(approver)],
            f"{execution_arn}: the workflow got {approval}, not {approver}'s approval",
        )

    # The approvers
    def notified(self, automation_id: str) -> None:
        def told() -> bool:
            return any(
                automation_id in json.loads(m["Body"]).get("Message", "")
                for m in self.gate.notifications()
            )

        self.wait(told, f"the approvers were not told of automation {automation_id}")

    # What the functions left behind
    def logged(self, function_name: str, text: str) -> None:
        """A log line of `function_name` since the run started mentions `text`."""
        logs = self.gate.client("logs")
        group = f"/aws/lambda/{function_name}"

        def found() -> bool:
            try:
                streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
            except ClientError:
                return False
            for stream in streams:
                if stream.get("lastIngestionTime", self.started_ms) < self.started_ms:
                    continue
                events = logs.get_log_events(
                    logGroupName=group,
                    logStreamName=stream["logStreamName"],
                    startTime=self.started_ms,
                )["events"]
                if any(text in event["message"] for event in events):
                    return True
            return False

        self.wait(found, f"{function_name} logged nothing about {text}")

    def traced(self, function_name: str) -> None:
        """X-Ray holds a segment of `function_name` (segments are cleared when a run starts)."""

        def found() -> bool:
            return any(
                s.get("name") == function_name and s.get("origin") == "AWS::Lambda::Function"
                for s in xray.segments()
            )

        self.wait(found, f"X-Ray has no segment of {function_name}")

    # Afterwards
    def clean_up(self) -> None:
        """Stops what the run left running and waits until their approvals are closed, so
        the next run starts from a quiet gate."""
        sfn = self.gate.client("stepfunctions")
        stopped = []
        for execution_arn in self.executions:
            if sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
                sfn.stop_execution(executionArn=execution_arn, error="LeastPrivilege.CleanUp")
                stopped.append(execution_arn)
        deadline = time.monotonic() + 20
        for execution_arn in stopped:
            while time.monotonic() < deadline:
                record = self.record_of(execution_arn)
                if record is None or record["status"] != "PENDING":
                    break
                time.sleep(0.2)


# --- the scenarios ----------------------------------------------------------------------------


def an_approval(run: Run) -> None:
    """A workflow asks alice, she is notified and approves, the workflow goes on approved;
    start_approval and receive_result logged it and sent their segments."""
    gate = run.gate
    execution_arn = run.start("least privilege: an approval")
    automation = run.waiting_automation(execution_arn)
    run.notified(automation)
    gate.decide("alice", automation, "Approve", "fine")
    run.approved_by(execution_arn, "alice")
    approval_id = (run.record_of(execution_arn) or {})["approval_id"]
    run.logged(gate.outputs["start_approval_function_name"], approval_id)
    run.logged(gate.outputs["receive_result_function_name"], approval_id)
    run.traced(gate.outputs["start_approval_function_name"])
    run.traced(gate.outputs["receive_result_function_name"])


@contextlib.contextmanager
def sweep_disabled(gate: LocalGate) -> Iterator[None]:
    """The sweep's schedule off: it fires in real time too (the sandbox clock runs), and a
    sweep would deliver what a scenario expects the event's path to deliver (or not)."""
    events, rule = gate.client("events"), gate.outputs["sweep_rule_name"]
    events.disable_rule(Name=rule)
    try:
        yield
    finally:
        events.enable_rule(Name=rule)


@contextlib.contextmanager
def sweep_enabled(gate: LocalGate) -> Iterator[None]:
    events, rule = gate.client("events"), gate.outputs["sweep_rule_name"]
    events.enable_rule(Name=rule)
    try:
        yield
    finally:
        events.disable_rule(Name=rule)


def a_lost_event_and_the_sweep(run: Run) -> None:
    """The decision's SSM event is lost; the next sweep delivers it."""
    gate = run.gate
    execution_arn = run.start("least privilege: the event of this one is lost")
    automation = run.waiting_automation(execution_arn)
    gate.aws.api(
        "/moto-api/sandbox/events/drop",
        {"source": "aws.ssm", "detail_type": STEP_EVENT, "detail": {"ExecutionId": automation}},
    )
    gate.decide("alice", automation, "Approve", "fine")
    run.wait(lambda: run.automation_status(automation) != "Waiting", "the approval did not end")
    with sweep_enabled(gate):
        # A minute passes on the local AWS's clock: the sweep's schedule is due.
        gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 60})
        gate.aws.api("/moto-api/sandbox/schedules/fire", {})
    run.approved_by(execution_arn, "alice")
    approval_id = (run.record_of(execution_arn) or {})["approval_id"]
    run.logged(gate.outputs["sweep_function_name"], approval_id)
    run.traced(gate.outputs["sweep_function_name"])


def a_stopped_workflow(run: Run) -> None:
    """A workflow stopped while its approval waits: the automation is cancelled, the record
    closed."""
    gate = run.gate
    execution_arn = run.start("least privilege: stopped before anyone decides")
    automation = run.waiting_automation(execution_arn)
    gate.client("stepfunctions").stop_execution(executionArn=execution_arn)
    run.wait(
        lambda: run.automation_status(automation) == "Cancelled",
        f"the automation {automation} of a stopped workflow was not cancelled",
    )
    record = run.wait(
        lambda: (r := run.record_of(execution_arn)) and r["status"] == "CLOSED" and r,
        "the record of a stopped workflow was not closed",
    )
    run.logged(gate.outputs["close_approvals_function_name"], record["approval_id"])
    run.traced(gate.outputs["close_approvals_function_name"])


@contextlib.contextmanager
def _fault(gate: LocalGate, service: str, operation: str, error_code: str) -> Iterator[None]:
    gate.aws.api(
        "/moto-api/sandbox/faults",
        {"service": service, "operation": operation, "error_code": error_code},
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
    from scripts.redrive import gate_functions, redrive

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
    with _fault(gate, "dynamodb", "UpdateItem", "ResourceNotFoundException"):
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
            },
        )
        try:
            first = _invoke_start_approval(gate, payload)
        finally:
            gate.aws.api("/moto-api/sandbox/faults", method="DELETE")
        if first["error"] is not None:
            break
    return payload, first


def a_retried_start_that_ssm_refuses(run: Run) -> None:
    """start_approval started the automation, then failed to record it; SSM answers the
    retry's reused ClientToken with IdempotentParameterMismatch (one of the variants,
    docs/aws-behaviour.md#undocumented-client-token-reuse): the retry finds the automation
    by its tag and reuses it."""
    gate = run.gate
    previous = gate.aws.api("/moto-api/sandbox/settings", method="GET")["sandbox"]
    gate.aws.api(
        "/moto-api/sandbox/settings",
        {"sandbox": {"client_token_reuse": "idempotent_parameter_mismatch"}},
    )
    try:
        payload, first = _start_whose_record_update_fails(gate, "least privilege: a retried start")
        run.check(
            first["error"] is not None,
            f"the first attempt should fail to record its automation: {first}",
        )
        retry = _invoke_start_approval(gate, payload | {"task_token": "token-of-the-retry"})
    finally:
        gate.aws.api(
            "/moto-api/sandbox/settings",
            {"sandbox": {"client_token_reuse": previous["client_token_reuse"]}},
        )
    run.check(retry["error"] is None, f"the retried start failed: {retry['reply']}")
    approval_id = retry["reply"]["approval_id"]
    tagged = gate.client("ssm").describe_automation_executions(
        Filters=[{"Key": "TagKey", "Values": [f"approval-gate:approval:{approval_id}"]}]
    )["AutomationExecutionMetadataList"]
    run.check(
        [a["AutomationExecutionId"] for a in tagged] == [retry["reply"]["automation_execution_id"]],
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


def a_workflow_that_ends_while_its_approval_starts(run: Run) -> None:
    """The workflow is stopped while SSM is starting its automation: close_approvals closes
    the record (no automation yet), so start_approval cancels the automation it started."""
    gate = run.gate
    with held_automation_start() as (entered, release):
        execution_arn = run.start("least privilege: stopped while the approval starts")
        run.wait(entered.is_set, "start_approval did not start the automation")
        gate.client("stepfunctions").stop_execution(executionArn=execution_arn)
        run.wait(
            lambda: (r := run.record_of(execution_arn)) and r["status"] == "CLOSED",
            "the record of the stopped workflow was not closed",
        )
        release.set()
        record = run.wait(
            lambda: (r := run.record_of(execution_arn)) and r.get("automation_execution_id") and r,
            "start_approval did not record the automation it started",
        )
    automation = record["automation_execution_id"]
    run.wait(
        lambda: run.automation_status(automation) == "Cancelled",
        f"start_approval did not cancel the automation {automation} of its ended workflow",
    )


def an_expired_approval(run: Run) -> None:
    """Nobody decides before the approval's timeout: the workflow fails Approval.Expired
    (receive_result answers it with SendTaskFailure)."""
    gate = run.gate
    execution_arn = run.start("least privilege: nobody decides")
    run.waiting_automation(execution_arn)
    gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})
    execution = run.ended(execution_arn)
    run.check(
        (execution["status"], execution.get("error")) == ("FAILED", "Approval.Expired"),
        f"{execution_arn} ended {execution['status']} ({execution.get('error')}), not "
        "FAILED with Approval.Expired",
    )


def the_same_start_twice(run: Run) -> None:
    """Lambda delivers one start twice (the same task token): the second is answered from
    the idempotency store with the first's automation."""
    gate = run.gate
    payload = _start_payload(gate, "least privilege: the same start twice")
    first = _invoke_start_approval(gate, payload)
    second = _invoke_start_approval(gate, payload)
    run.check(
        first["error"] is None and second["error"] is None and first["reply"] == second["reply"],
        f"the same start twice got different answers: {first} and {second}",
    )
    with contextlib.suppress(ClientError):
        gate.client("ssm").stop_automation_execution(
            AutomationExecutionId=first["reply"]["automation_execution_id"], Type="Cancel"
        )


def a_failed_start_delivered_again(run: Run) -> None:
    """start_approval fails after starting the automation (its record update fails), then
    gets the same invocation again: its idempotency record of the failed attempt must be
    gone, and the automation is reused (ClientToken)."""
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


def an_approval_queued_too_long(run: Run) -> None:
    """SSM keeps the automation queued (no slot under the account's concurrency quota)
    longer than the deployment's max_queued_seconds: the sweep cancels it and fails the
    workflow with Approval.NotStarted. The functions read the real clock, so the record's
    request time is set back an hour and a minute instead of waiting that long."""
    gate = run.gate
    previous = gate.aws.api("/moto-api/sandbox/settings", method="GET")["sandbox"]
    gate.aws.api("/moto-api/sandbox/settings", {"sandbox": {"max_concurrent_executions": 0}})
    try:
        execution_arn = run.start("least privilege: queued past the quota")
        record = run.wait(
            lambda: (r := run.record_of(execution_arn)) and r.get("automation_execution_id") and r,
            f"the approval of {execution_arn} did not record its automation",
        )
        automation = record["automation_execution_id"]
        run.check(
            run.automation_status(automation) == "Pending",
            f"the automation {automation} should be queued (Pending) past the quota",
        )
        gate.client("dynamodb").update_item(
            TableName=gate.outputs["approvals_table_name"],
            Key={"pk": {"S": record["pk"]}},
            UpdateExpression="SET requested_epoch = :then",
            ExpressionAttributeValues={":then": {"N": str(int(record["requested_epoch"]) - 3660)}},
        )
        with sweep_enabled(gate):
            gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 60})
            gate.aws.api("/moto-api/sandbox/schedules/fire", {})
            execution = run.ended(execution_arn)
    finally:
        gate.aws.api(
            "/moto-api/sandbox/settings",
            {"sandbox": {"max_concurrent_executions": previous["max_concurrent_executions"]}},
        )
    run.check(
        (execution["status"], execution.get("error")) == ("FAILED", "Approval.NotStarted"),
        f"{execution_arn} ended {execution['status']} ({execution.get('error')}), not "
        "FAILED with Approval.NotStarted",
    )
    run.check(
        run.automation_status(automation) == "Cancelled",
        f"the queued automation {automation} was not cancelled",
    )
    run.logged(gate.outputs["sweep_function_name"], record["approval_id"])


SCENARIOS: dict[str, Callable[[Run], None]] = {
    "an approval": an_approval,
    "a failed start delivered again": a_failed_start_delivered_again,
    "an expired approval": an_expired_approval,
    "the same start twice": the_same_start_twice,
    "a lost event and the sweep": a_lost_event_and_the_sweep,
    "an approval queued too long": an_approval_queued_too_long,
    "a stopped workflow": a_stopped_workflow,
    "a dead-lettered result and its redrive": a_dead_lettered_result_and_its_redrive,
    "a dead-lettered workflow end and its redrive": a_dead_lettered_workflow_end_and_its_redrive,
    "a retried start that SSM refuses": a_retried_start_that_ssm_refuses,
    "a workflow that ends while its approval starts": (
        a_workflow_that_ends_while_its_approval_starts
    ),
}
