"""The step engine of SSM Automation: steps run, end and lead to the next; statuses change
(each change an EventBridge event, ``sandbox.ssm.events``); the queue of automations past the
concurrency quota; the read lag. Only ``aws:approve`` runs (``sandbox.ssm.approve``); any
other action fails its step with a message saying so. Where AWS documents nothing, the
settings pick the behaviour (docs/aws-behaviour.md, the anchors below).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from sandbox.core.clock import clock
from sandbox.core.settings import settings
from sandbox.ssm import events
from sandbox.ssm.approve import record_approval_outputs, start_approval
from sandbox.ssm.document import interpolate, typed_parameters
from sandbox.ssm.models import (
    SUCCESS_STATUSES,
    TERMINAL_STATUSES,
    AutomationExecution,
    AutomationState,
    StepExecution,
    state_of,
)

SUPPORTED_ACTIONS = ("aws:approve",)
MAX_STEPS_PER_EXECUTION = 100  # stops a document whose steps loop through nextStep/onFailure

# Each API call (and each expiry pass) gets a number: the read lag shows what readers saw
# before the call, however many status changes the call made.
_call_numbers = itertools.count(1)
_call = 0
_starting_queued = False  # start_queued is running (a started automation may end at once)


def begin_call() -> int:
    """A new API call (or expiry pass) begins; its number."""
    global _call
    _call = next(_call_numbers)
    return _call


# --- the queue (docs/aws-behaviour.md#ssm-automation-concurrency-queue) ---------------------


def _holds_slot(execution: AutomationExecution) -> bool:
    if execution.status in TERMINAL_STATUSES or execution.status == "Pending":
        return False
    # docs/aws-behaviour.md#undocumented-waiting-holds-slot
    return settings.waiting_holds_slot or execution.status != "Waiting"


def slots_in_use(state: AutomationState) -> int:
    return sum(1 for execution in state.executions.values() if _holds_slot(execution))


def queued(state: AutomationState) -> list[AutomationExecution]:
    """Automations waiting for a slot, oldest first (executions keep their start order)."""
    return [item for item in state.executions.values() if item.status == "Pending"]


def start_queued(state: AutomationState) -> None:
    """Start the oldest queued automations while slots are free."""
    global _starting_queued
    if _starting_queued:
        return  # an automation started from here changed status: the loop below goes on
    _starting_queued = True
    try:
        while slots_in_use(state) < settings.max_concurrent_executions:
            waiting = queued(state)
            if not waiting:
                return
            execution = waiting[0]
            execution.running_since = clock.now()  # its step's timeout counts from now
            set_execution_status(execution, "InProgress")
            _run_from(execution, 0)
    finally:
        _starting_queued = False


# --- the step engine ----------------------------------------------------------------------


def timeout_reason(execution: AutomationExecution, now: datetime) -> str | None:
    if execution.status in TERMINAL_STATUSES or execution.running_since is None:
        return None  # ended, or queued: nothing runs yet
    step = execution.current_step
    if step and step.start and now >= step.start + timedelta(seconds=step.timeout_seconds):
        return f"Step {step.name} timed out after {step.timeout_seconds} seconds."
    limit = settings.no_role_max_seconds
    no_role = limit is not None and not execution.assume_role
    if no_role and now >= execution.running_since + timedelta(seconds=limit):
        # docs/aws-behaviour.md#ssm-no-role-12-hours
        return (
            f"The automation ran {limit} seconds without an assume role "
            "(AutomationAssumeRole), the limit for automations without one."
        )
    return None


def _run_from(execution: AutomationExecution, index: int) -> None:
    """Run steps from ``index`` until one waits or the automation ends."""
    main_steps = execution.document.main_steps
    if index >= len(main_steps):
        finish_execution(execution, "Success")
        return
    if len(execution.steps) >= MAX_STEPS_PER_EXECUTION:
        finish_execution(
            execution, "Failed", f"More than {MAX_STEPS_PER_EXECUTION} steps ran: a loop?"
        )
        return
    step = StepExecution(definition=dict(main_steps[index]))
    execution.steps.append(step)
    set_step_status(execution, step, "InProgress")
    step.inputs = interpolate(step.definition.get("inputs") or {}, variables_of(execution))
    if step.action == "aws:approve":
        problem = start_approval(execution, step)
        if problem is None:
            set_step_status(execution, step, "Waiting")
            set_execution_status(execution, "Waiting")
            return
    else:
        problem = (
            f"Action {step.action} is not supported by the sandbox "
            f"(supported: {', '.join(SUPPORTED_ACTIONS)})."
        )
    _finish_step(execution, step, "Failed", problem)


def _finish_step(
    execution: AutomationExecution, step: StepExecution, status: str, failure: str | None = None
) -> None:
    """End ``step`` and go where the document says: next step, onFailure, or the end."""
    set_step_status(execution, step, status, failure)
    if execution.status == "Waiting":
        set_execution_status(execution, "InProgress")
    if status not in ("Success", "Failed"):
        # A variant's end (Approved, Rejected, CompletedWith...) is the automation's end too
        # (docs/aws-behaviour.md#undocumented-approval-status, #undocumented-rejection-status).
        reason = None if status in SUCCESS_STATUSES else f"Step {step.name}: {failure}"
        finish_execution(execution, status, reason)
        return
    names = [str(item.get("name")) for item in execution.document.main_steps]
    index = names.index(step.name)
    if status == "Failed":
        on_failure = step.on_failure
        if on_failure.startswith("step:") and on_failure[5:] in names:
            _run_from(execution, names.index(on_failure[5:]))
        elif on_failure == "Continue" and not step.definition.get("isEnd"):
            _run_from(execution, index + 1)
        elif on_failure == "Continue":
            finish_execution(execution, "Success")
        else:
            finish_execution(execution, "Failed", f"Step {step.name} failed: {failure}")
        return
    if step.definition.get("isEnd"):
        finish_execution(execution, "Success")
    elif step.definition.get("nextStep") in names:
        _run_from(execution, names.index(step.definition["nextStep"]))
    else:
        _run_from(execution, index + 1)


def decide(execution: AutomationExecution, step: StepExecution) -> None:
    """Approved once the quorum approves; rejected by a Reject at once, or (a variant) only
    once the undecided approvers can no longer reach the quorum."""
    approvals = {d.entry for d in step.decisions if d.decision == "Approve"}
    rejections = [d for d in step.decisions if d.decision == "Reject"]
    undecided = set(step.approvers) - {d.entry for d in step.decisions}
    if len(approvals) >= step.min_required_approvals:
        record_approval_outputs(step, "Approved")
        # docs/aws-behaviour.md#undocumented-approval-status
        _finish_step(execution, step, settings.approval_status)
        return
    # docs/aws-behaviour.md#undocumented-reject-under-quorum
    reachable = len(approvals) + len(undecided) >= step.min_required_approvals
    at_once = settings.reject_under_quorum == "rejects_at_once"
    if not rejections or (reachable and not at_once):
        record_approval_outputs(step, "Waiting")
        return
    record_approval_outputs(step, "Rejected")
    # docs/aws-behaviour.md#undocumented-rejection-status
    status = settings.rejection_status
    rejected_by = ", ".join(d.approver for d in rejections)
    failure = f"The approval request was rejected by {rejected_by}."
    _finish_step(execution, step, status, None if status in SUCCESS_STATUSES else failure)


def finish_execution(
    execution: AutomationExecution, status: str, failure: str | None = None
) -> None:
    outputs: dict[str, list[str]] = {}
    for reference in execution.document.outputs:
        step_name, _, output_name = str(reference).partition(".")
        for step in execution.steps:
            if step.name == step_name and output_name in step.outputs:
                outputs[str(reference)] = list(step.outputs[output_name])
    remember_before_change(execution)
    execution.outputs = outputs
    execution.failure_message = failure
    set_execution_status(execution, status)


def set_step_status(
    execution: AutomationExecution, step: StepExecution, status: str, failure: str | None = None
) -> None:
    if step.status == status:
        return
    remember_before_change(execution)
    step.status = status
    now = clock.now()
    if status == "InProgress" and step.start is None:
        step.start = now
    if status in TERMINAL_STATUSES:
        step.end = now
        step.failure_message = failure if status not in SUCCESS_STATUSES else None
        # docs/aws-behaviour.md#undocumented-failed-step-outputs
        if status not in SUCCESS_STATUSES and settings.failed_step_outputs == "dropped":
            step.outputs = {}
    _lag_reads(execution)
    events.step_status_changed(execution, step)


def set_execution_status(execution: AutomationExecution, status: str) -> None:
    if execution.status == status:
        return
    remember_before_change(execution)
    execution.status = status
    if status in TERMINAL_STATUSES:
        execution.end = clock.now()
    _lag_reads(execution)
    events.execution_status_changed(execution)
    if status in TERMINAL_STATUSES or status == "Waiting":
        start_queued(state_of(execution))  # a slot may have freed


# --- read lag (docs/aws-behaviour.md#undocumented-read-after-event) -------------------------


def remember_before_change(execution: AutomationExecution) -> None:
    """Keep the execution as readers saw it before the current call changed it."""
    if settings.status_read_lag_reads and execution.before_change_call != _call:
        execution.before_change = execution.snapshot()
        execution.before_change_call = _call


def _lag_reads(execution: AutomationExecution) -> None:
    """A status changed: the next reads show the state before the current call. A new
    execution has no earlier state: it reads as it is."""
    lag = settings.status_read_lag_reads
    if lag and execution.before_change is not None and execution.created_call != _call:
        execution.stale_view = execution.before_change
        execution.stale_reads_left = lag


def variables_of(execution: AutomationExecution) -> dict[str, Any]:
    """What ``{{ }}`` can name: parameters, automation/global variables, earlier outputs."""
    variables: dict[str, Any] = typed_parameters(execution.document, execution.parameters)
    variables.update(
        {
            "automation:EXECUTION_ID": execution.execution_id,
            "global:ACCOUNT_ID": execution.account_id,
            "global:REGION": execution.region,
            "global:AWS_PARTITION": execution.partition,
            "global:DATE_TIME": clock.now().strftime("%Y-%m-%d_%H.%M.%S"),
        }
    )
    for step in execution.steps:
        for name, values in step.outputs.items():
            variables[f"{step.name}.{name}"] = values[0] if len(values) == 1 else values
    return variables
