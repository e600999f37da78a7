"""The deployed gate as one caller sees it: find an approval by any of its ids, read its
automation and workflow, decide, withdraw, wait."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from approvals_cli.approvers import may_decide, short_name
from approvals_cli.automations import Automation
from approvals_cli.aws import Aws, aws_errors, error_code
from approvals_cli.deployment import Deployment
from approvals_cli.errors import CliError, ExitCode
from approvals_cli.records import Approval, Records, stage_name

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TIMEOUT_SECONDS = re.compile(r"timeoutSeconds\"?\s*:\s*\"?(\d+)")
SIGNALS = {"approve": "Approve", "reject": "Reject"}


@dataclass(frozen=True)
class Request:
    """What the approvers are asked: from the record, else from the automation's parameters."""

    message: str
    approvers: list[str]
    min_required_approvals: int


class Gate:
    def __init__(self, deployment: Deployment, aws: Aws):
        self.deployment = deployment
        self.aws = aws

    @cached_property
    def records(self) -> Records:
        (table,) = self.deployment.require("approvals_table_name")
        return Records(self.aws.client("dynamodb"), table)

    # Reading -------------------------------------------------------------------------------

    def resolve(self, ident: str) -> Approval:
        """The approval that `ident` names: an approval id, its automation's id, or its
        workflow execution's ARN or name."""
        ident = ident.strip()
        if ident.startswith("arn:"):
            if ":states:" not in ident or ":execution:" not in ident:
                raise CliError(
                    f"{ident} is not a workflow execution ARN (arn:aws:states:...:execution:...)",
                    ExitCode.NOT_FOUND,
                )
            return self._of_execution(ident)
        if _UUID.match(ident):
            with aws_errors(f"reading the approval record (table {self.records.table})"):
                found = self.records.get(ident)
            if found:
                return found
            automation = self.automation_or_none(ident)
            if automation is not None:
                return self._of_automation(automation)
        arn = self._execution_arn(ident)
        if arn:
            with aws_errors(f"reading the workflow's approvals (table {self.records.table})"):
                if self.records.of_execution(arn):
                    return self._of_execution(arn)
        raise CliError(
            f"no approval of this gate has the id {ident!r} (an approval id, its automation "
            "execution id, or its workflow execution's ARN or name): see `approvals list --all`",
            ExitCode.NOT_FOUND,
        )

    def _of_automation(self, automation: Automation) -> Approval:
        document = self.deployment.get("document_name")
        if document and automation.document_name != document:
            raise CliError(
                f"automation {automation.automation_execution_id} runs the document "
                f"{automation.document_name!r}, not this gate's {document!r}: it is not one of "
                "this gate's approvals",
                ExitCode.NOT_FOUND,
            )
        with aws_errors(f"reading the approval record (table {self.records.table})"):
            found = self.records.get(automation.approval_id) if automation.approval_id else None
        if found is None:
            raise CliError(
                f"automation {automation.automation_execution_id} has no approval record in "
                f"this gate's table: it was not started by this gate",
                ExitCode.NOT_FOUND,
            )
        return found

    def _of_execution(self, arn: str) -> Approval:
        with aws_errors(f"reading the workflow's approvals (table {self.records.table})"):
            found = self.records.of_execution(arn)
        if not found:
            raise CliError(
                f"workflow execution {arn} has no approval in this gate", ExitCode.NOT_FOUND
            )
        # The newest one; a pending one first (a workflow may ask more than once).
        return max(found, key=lambda a: (a.status == "PENDING", a.requested_epoch))

    def _execution_arn(self, name: str) -> str | None:
        machine = self.deployment.get("state_machine_arn")
        if not machine or not re.match(r"^[\w.-]{1,80}$", name):
            return None
        return machine.replace(":stateMachine:", ":execution:") + ":" + name

    def automation_or_none(self, automation_id: str) -> Automation | None:
        with aws_errors(f"reading automation {automation_id}"):
            try:
                execution = self.aws.client("ssm").get_automation_execution(
                    AutomationExecutionId=automation_id
                )["AutomationExecution"]
            except ClientError as error:
                if error_code(error) in (
                    "AutomationExecutionNotFoundException",
                    "ValidationException",
                ):
                    return None
                raise
        return Automation.from_response(execution)

    def automation(self, approval: Approval) -> Automation | None:
        if not approval.automation_execution_id:
            return None
        return self.automation_or_none(approval.automation_execution_id)

    def request(self, approval: Approval, automation: Automation | None = None) -> Request:
        if approval.has_request:
            return Request(
                approval.message or "", approval.approvers, approval.min_required_approvals or 1
            )
        automation = automation or self.automation(approval)
        if automation is None:
            return Request("", [], 1)
        return Request(automation.message, automation.approvers, automation.min_required_approvals)

    def workflow(self, approval: Approval) -> dict[str, Any]:
        """The workflow execution's status, or why it cannot be read."""
        try:
            described = self.aws.client("stepfunctions").describe_execution(
                executionArn=approval.execution_arn
            )
        except ClientError as error:
            return {"status": None, "unreadable": f"{error_code(error)}"}
        return {
            "status": described["status"],
            "stopped_at": described.get("stopDate"),
            "error": described.get("error"),
            "cause": described.get("cause"),
        }

    @cached_property
    def approval_timeout_seconds(self) -> int | None:
        """The approve step's timeout, from the gate's document (None if unreadable)."""
        document = self.deployment.get("document_name")
        if not document:
            return None
        try:
            content = self.aws.client("ssm").get_document(Name=document)["Content"]
        except ClientError:
            return None
        found = _TIMEOUT_SECONDS.search(content)
        return int(found.group(1)) if found else None

    def expires_epoch(self, approval: Approval) -> int | None:
        timeout = self.approval_timeout_seconds
        return approval.requested_epoch + timeout if timeout else None

    # Acting --------------------------------------------------------------------------------

    def decide(self, ident: str, verb: str, comment: str) -> tuple[Approval, Automation]:
        """Signal the approval's automation (its waiting stage's) as the caller; refuse,
        sending nothing, what SSM would refuse or what would change nothing."""
        approval = self.resolve(ident)
        if approval.status == "PENDING":
            _refuse_an_ended_stage(approval, ident.strip())
        automation = self._waiting_automation(approval, verb)
        caller = self.aws.caller
        at = f" at {approval.stage}" if approval.staged else ""
        if approval.escalation_automation_execution_id and not any(
            may_decide(caller, entry) for entry in automation.approvers
        ):
            # An escalated stage: its escalation approvers decide on their own automation.
            escalation = self.automation_or_none(approval.escalation_automation_execution_id)
            if escalation is not None and any(
                may_decide(caller, entry) for entry in escalation.approvers
            ):
                automation = escalation
        if not any(may_decide(caller, entry) for entry in automation.approvers):
            raise CliError(
                f"you ({caller.arn}) are not an approver of approval {approval.approval_id}{at}: "
                f"who may decide: {', '.join(automation.approvers)} "
                f"(quorum {automation.min_required_approvals}); nothing was sent",
                ExitCode.REFUSED,
            )
        mine = [d for d in automation.decisions if may_decide(caller, d.approver)]
        if mine:
            raise CliError(
                f"you already decided approval {approval.approval_id}{at} ({mine[0].decision} at "
                f"{mine[0].decided_at}); it waits for the others (quorum "
                f"{automation.min_required_approvals}): nothing was sent",
                ExitCode.CONFLICT,
            )
        with aws_errors(f"{verb} (ssm:SendAutomationSignal)"):
            try:
                self.aws.client("ssm").send_automation_signal(
                    AutomationExecutionId=automation.automation_execution_id,
                    SignalType=SIGNALS[verb],
                    Payload={"Comment": [comment]} if comment else {},
                )
            except ClientError as error:
                if error_code(error) == "InvalidAutomationSignalException":
                    raise CliError(
                        f"SSM refused your {verb}: "
                        f"{error.response.get('Error', {}).get('Message', '')}; who may decide: "
                        f"{', '.join(automation.approvers)}",
                        ExitCode.REFUSED,
                    ) from None
                raise
        return approval, automation

    def withdraw(self, ident: str) -> tuple[Approval, Automation]:
        """Cancel the approval's automation: the workflow gets Approval.Cancelled."""
        approval = self.resolve(ident)
        automation = self._waiting_automation(approval, "withdraw", allow_queued=True)
        with aws_errors("withdraw (ssm:StopAutomationExecution)"):
            self.aws.client("ssm").stop_automation_execution(
                AutomationExecutionId=automation.automation_execution_id, Type="Cancel"
            )
        return approval, automation

    def _waiting_automation(
        self, approval: Approval, verb: str, allow_queued: bool = False
    ) -> Automation:
        nothing = "nothing was sent"
        if approval.status == "DECIDED":
            if approval.outcome == "Expired":
                raise CliError(
                    f"approval {approval.approval_id} expired (nobody decided before its "
                    f"timeout; the workflow got Approval.Expired at {approval.decided_at}): "
                    + nothing,
                    ExitCode.CONFLICT,
                )
            raise CliError(
                f"approval {approval.approval_id} is already decided: {approval.outcome} "
                f"(at {approval.decided_at}): {nothing}",
                ExitCode.CONFLICT,
            )
        if approval.status == "CLOSED":
            raise CliError(
                f"approval {approval.approval_id} is closed: its workflow ended "
                f"({approval.closed_reason}) before a decision: {nothing}",
                ExitCode.CONFLICT,
            )
        automation = self.automation(approval)
        if automation is None:
            raise CliError(
                f"approval {approval.approval_id} has no automation yet (being started): try "
                f"again in a moment; {nothing}",
                ExitCode.CONFLICT,
            )
        if automation.status == "Pending" and not allow_queued:
            raise CliError(
                f"approval {approval.approval_id} is queued by SSM (the account's concurrent "
                f"automations are all in use): the approvers are not asked yet; {nothing}",
                ExitCode.CONFLICT,
            )
        if automation.final:
            what = "expired" if automation.status == "TimedOut" else f"ended ({automation.status})"
            raise CliError(
                f"approval {approval.approval_id} can no longer be decided: its automation "
                f"{what}; the workflow gets the outcome shortly: {nothing}",
                ExitCode.CONFLICT,
            )
        return automation

    def wait(
        self,
        ident: str,
        timeout: float | None,
        interval: float = 2.0,
        on_poll: Callable[[Approval], None] | None = None,
    ) -> Approval:
        approval = self.resolve(ident)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not approval.finished:
            if deadline is not None and time.monotonic() >= deadline:
                raise CliError(
                    f"approval {approval.approval_id} is still {approval.status} after "
                    f"{timeout:.0f} s",
                    ExitCode.TIMED_OUT,
                )
            time.sleep(interval)
            with aws_errors(f"reading the approval record (table {self.records.table})"):
                approval = self.records.get(approval.approval_id) or approval
            if on_poll:
                on_poll(approval)
        return approval


def _refuse_an_ended_stage(approval: Approval, ident: str) -> None:
    """`ident` is the automation of a stage that has ended: its approvers were asked that
    stage, not the one that waits now, so nothing is sent."""
    for number, result in enumerate(approval.stage_results, 1):
        if ident and result.get("automation_execution_id") == ident:
            ended = stage_name(int(result.get("stage") or number), approval.stages)
            raise CliError(
                f"automation {ident} asked {ended} of approval {approval.approval_id}, which "
                f"ended ({result.get('outcome')}); the approval now waits at {approval.stage}: "
                f"decide that stage by the approval id ({approval.approval_id}) if you are one "
                "of its approvers; nothing was sent",
                ExitCode.CONFLICT,
            )


def wait_exit_code(approval: Approval) -> ExitCode:
    """The outcome the workflow got, as `approvals wait` exits."""
    if approval.status == "CLOSED" or approval.callback == "REFUSED":
        return ExitCode.CANCELLED
    return {
        "Approved": ExitCode.OK,
        "Rejected": ExitCode.REJECTED,
        "Expired": ExitCode.EXPIRED,
        "Cancelled": ExitCode.CANCELLED,
    }.get(approval.outcome or "", ExitCode.NOT_DECIDED)


def approver_names(approvers: list[str]) -> str:
    return ", ".join(short_name(a) for a in approvers) or "-"
