"""The deployed gate, driven as a user would: StartExecution of its state machine with the
example's input format, approvers' SendAutomationSignal, SSM reads; and SSM directly where
the gate offers no way (a second start with a used ClientToken, a short expiry)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from scripts.aws_probe.approvers import ProbeRoles
from scripts.aws_probe.deployment import Account
from scripts.aws_probe.variants import is_terminal

APPROVE_ACTION = "aws:approve"


class ProbeError(RuntimeError):
    """A scenario could not go on; the message says what was seen."""


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def wait_until(probe: Callable[[], Any], seconds: float, interval: float) -> Any:
    """`probe()`'s first truthy result, or None after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


class DeployedGate:
    def __init__(
        self,
        account: Account,
        outputs: dict[str, Any],
        wait_seconds: float = 300,
        poll_seconds: float = 1.0,
    ):
        self.account = account
        self.outputs = outputs
        self.state_machine_arn = str(outputs["state_machine_arn"])
        self.document_name = str(outputs["document_name"])
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.ssm = account.client("ssm")
        self.sfn = account.client("stepfunctions")
        self.workflows: list[str] = []  # started here: stopped at the end if still running
        self.automations: list[str] = []  # started directly: stopped at the end if waiting
        self._not_mine: set[str] = set()

    # --- the workflow owner ---------------------------------------------------------------
    def request(self, nonce: str, approvers: list[str], quorum: int = 1) -> dict[str, Any]:
        """The example's input (output state_machine_input_example) with a message of ours:
        the nonce starts the automation's Message parameter, so the probe finds it."""
        example = self.outputs.get("state_machine_input_example") or "{}"
        request = json.loads(example) if isinstance(example, str) else dict(example)
        for field in ("confirmation_url", "confirmation_file"):
            request.pop(field, None)
        return request | {
            "message": f"{nonce} (make verify-aws: a probe of this account, safe to ignore)",
            "approvers": approvers,
            "min_required_approvals": quorum,
        }

    def start_workflow(self, request: dict[str, Any], name: str) -> str:
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(request)
        )["executionArn"]
        self.workflows.append(arn)
        return arn

    def workflow(self, execution_arn: str) -> dict[str, Any]:
        return self.sfn.describe_execution(executionArn=execution_arn)

    def finished_workflow(self, execution_arn: str) -> dict[str, Any]:
        """DescribeExecution once it ended, or as it is after the wait."""

        def ended() -> dict[str, Any] | None:
            described = self.workflow(execution_arn)
            return described if described["status"] != "RUNNING" else None

        return wait_until(ended, self.wait_seconds, self.poll_seconds) or self.workflow(
            execution_arn
        )

    def automation_of(self, execution_arn: str, nonce: str) -> str:
        """The automation the workflow's approval started, once it waits for approvers."""

        def waiting() -> str | None:
            pages = self.ssm.get_paginator("describe_automation_executions").paginate(
                Filters=[
                    {"Key": "DocumentNamePrefix", "Values": [self.document_name]},
                    {"Key": "ExecutionStatus", "Values": ["Waiting"]},
                ]
            )
            for page in pages:
                for metadata in page.get("AutomationExecutionMetadataList", []):
                    automation_id = metadata["AutomationExecutionId"]
                    if automation_id in self._not_mine:
                        continue
                    parameters = self.execution(automation_id).get("Parameters", {})
                    if (parameters.get("Message") or [""])[0].startswith(nonce):
                        return automation_id
                    self._not_mine.add(automation_id)
            described = self.workflow(execution_arn)
            if described["status"] != "RUNNING":
                raise ProbeError(
                    f"the workflow ended {described['status']} before its approval waited: "
                    f"{described.get('error', '')} {described.get('cause', '')}".strip()
                )
            return None

        found = wait_until(waiting, self.wait_seconds, self.poll_seconds)
        if not found:
            raise ProbeError(f"no approval of {execution_arn} waited after {self.wait_seconds} s")
        return found

    # --- SSM ------------------------------------------------------------------------------
    def execution(self, automation_id: str) -> dict[str, Any]:
        return self.ssm.get_automation_execution(AutomationExecutionId=automation_id)[
            "AutomationExecution"
        ]

    def approve_step(self, execution: dict[str, Any]) -> dict[str, Any]:
        steps = execution.get("StepExecutions", [])
        step = next((s for s in steps if s.get("Action") == APPROVE_ACTION), None)
        if step is None and execution.get("StepExecutionsTruncated"):
            steps = self.ssm.describe_automation_step_executions(
                AutomationExecutionId=execution["AutomationExecutionId"],
                Filters=[{"Key": "Action", "Values": [APPROVE_ACTION]}],
            )["StepExecutions"]
            step = steps[0] if steps else None
        return step or {}

    def settled(self, automation_id: str, seconds: float | None = None) -> dict[str, Any]:
        """The automation once it and its approve step ended, or as it is after `seconds`."""

        def ended() -> dict[str, Any] | None:
            execution = self.execution(automation_id)
            step = self.approve_step(execution)
            if is_terminal(execution.get("AutomationExecutionStatus")) and is_terminal(
                step.get("StepStatus")
            ):
                return execution
            return None

        wait = self.wait_seconds if seconds is None else seconds
        return wait_until(ended, wait, self.poll_seconds) or self.execution(automation_id)

    def start_direct(
        self, parameters: dict[str, list[str]], client_token: str | None = None, document: str = ""
    ) -> str:
        options = {"ClientToken": client_token} if client_token else {}
        automation_id = self.ssm.start_automation_execution(
            DocumentName=document or self.document_name, Parameters=parameters, **options
        )["AutomationExecutionId"]
        if automation_id not in self.automations:
            self.automations.append(automation_id)
        return automation_id

    def direct_parameters(
        self, template: dict[str, list[str]], nonce: str, approvers: list[str], quorum: int
    ) -> dict[str, list[str]]:
        """A gate automation's parameters (role, topic) with our own approvers and message."""
        keep = ("NotificationArn", "AutomationAssumeRole", "Description")
        parameters = {name: template[name] for name in keep if template.get(name)}
        return parameters | {
            "ApprovalId": [str(uuid.uuid4())],
            "Message": [f"{nonce} (make verify-aws: a probe of this account, safe to ignore)"],
            "Approvers": approvers,
            "MinRequiredApprovals": [str(quorum)],
        }

    # --- the approvers --------------------------------------------------------------------
    def signal(
        self, roles: ProbeRoles, who: str, automation_id: str, signal: str, comment: str = ""
    ) -> None:
        """SendAutomationSignal as `who`; AccessDenied is retried while IAM propagates the
        new role's policy (any other refusal is SSM's answer and raised)."""
        client = roles.ssm(who)
        deadline = time.monotonic() + roles.propagation_seconds
        while True:
            try:
                client.send_automation_signal(
                    AutomationExecutionId=automation_id,
                    SignalType=signal,
                    Payload={"Comment": [comment]} if comment else {},
                )
                return
            except ClientError as error:
                if error_code(error) not in ("AccessDenied", "AccessDeniedException"):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    # --- the end --------------------------------------------------------------------------
    def stop_leftovers(self) -> list[str]:
        """Stops what this run started and left running; returns what it stopped or could not."""
        done: list[str] = []
        for arn in self.workflows:
            try:
                if self.workflow(arn)["status"] == "RUNNING":
                    self.sfn.stop_execution(executionArn=arn, cause="make verify-aws cleanup")
                    done.append(f"stopped workflow {arn}")
            except ClientError as error:
                done.append(f"could not stop workflow {arn}: {error}")
        for automation_id in self.automations:
            try:
                if not is_terminal(self.execution(automation_id).get("AutomationExecutionStatus")):
                    self.ssm.stop_automation_execution(
                        AutomationExecutionId=automation_id, Type="Cancel"
                    )
                    done.append(f"cancelled automation {automation_id}")
            except ClientError as error:
                done.append(f"could not cancel automation {automation_id}: {error}")
        return done
