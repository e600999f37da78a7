"""One run of a scenario of tests/e2e/test_least_privilege.py (the scenarios:
least_privilege_scenarios.py): the gate, the waits and checks of a scenario, what it started
(stopped afterwards), and the IAM denial the run expects.

A scenario raises ScenarioFailed on the first expectation that does not hold. Every wait is
bounded; when the run expects an IAM denial (a statement removed), a wait also gives up a
short grace after that denial was recorded, so a broken scenario fails in seconds, not at
its full patience.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

import sandbox.iam
from sandbox import xray
from scripts.local_gate import LocalGate

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
        return self.start_request(
            {
                "message": message,
                "approvers": [self.gate.principal_arn(a) for a in approvers or ("alice",)],
            }
        )

    def start_request(self, request: dict[str, Any]) -> str:
        execution_arn = self.gate.start(request)
        self.executions.append(execution_arn)
        return execution_arn

    def record_of(self, execution_arn: str) -> dict[str, Any] | None:
        records = self.gate.records_of(execution_arn)
        return records[0] if len(records) == 1 else None

    def waiting_automation(self, execution_arn: str, after: str | None = None) -> str:
        """The automation of the execution's approval once it waits for approvers; `after`:
        an earlier stage's automation, so the one of the stage the record moved on to."""

        def waiting() -> str | None:
            record = self.record_of(execution_arn) or {}
            automation = record.get("automation_execution_id")
            if automation in (None, after):
                return None
            return automation if self.automation_status(automation) == "Waiting" else None

        what = f"no approval of {execution_arn} waits for approvers"
        if after:
            what += f" past the stage of automation {after}"
        return self.wait(waiting, what)

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
        approval = self._succeeded(execution_arn)
        self.check(
            approval["decision"] == "Approved"
            and [d["approver"] for d in approval["decided_by"]]
            == [self.gate.principal_arn(approver)],
            f"{execution_arn}: the workflow got {approval}, not {approver}'s approval",
        )

    def approved_in_stages(self, execution_arn: str, stages: list[tuple[str, str]]) -> None:
        """The workflow went on approved, its output's `stages` each (name, approver) in turn."""
        approval = self._succeeded(execution_arn)
        got = [
            (stage.get("name"), [d["approver"] for d in stage.get("decided_by", [])])
            for stage in approval.get("stages", [])
        ]
        expected = [(name, [self.gate.principal_arn(approver)]) for name, approver in stages]
        self.check(
            approval["decision"] == "Approved" and got == expected,
            f"{execution_arn}: the workflow got {approval}, not the stages {stages} approved",
        )

    def _succeeded(self, execution_arn: str) -> dict[str, Any]:
        """The approval the workflow got, once it SUCCEEDED."""
        execution = self.ended(execution_arn)
        self.check(
            execution["status"] == "SUCCEEDED",
            f"{execution_arn} ended {execution['status']} ({execution.get('error')}), "
            "not SUCCEEDED",
        )
        approval: dict[str, Any] = json.loads(execution["output"])["approval"]
        return approval

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
