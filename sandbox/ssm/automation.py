"""SSM Automation for moto: the operations and the step engine.

Only ``aws:approve`` runs (``sandbox.approve_action``); any other action fails its step with
a message saying so. Every status change puts an event on EventBridge
(``sandbox.automation_events``). Time comes from ``sandbox.clock``; due timeouts are applied
lazily by every Automation call and by ``expire_due()``. Past ``max_concurrent_executions``
running automations a new one queues (``Pending``) until a slot frees. Where AWS documents
nothing, ``sandbox.settings`` picks the behaviour (docs/aws-behaviour.md, the anchors below).
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from moto.ssm.models import SimpleSystemManagerBackend

from sandbox import automation_events as events
from sandbox.approve_action import record_approval_outputs, start_approval
from sandbox.automation_document import (
    interpolate,
    load_document,
    resolve_parameters,
    typed_parameters,
)
from sandbox.automation_model import (
    SUCCESS_STATUSES,
    TERMINAL_STATUSES,
    AutomationExecution,
    AutomationState,
    Decision,
    StepExecution,
    all_states,
    lock,
    state_for,
    state_of,
)
from sandbox.clock import clock
from sandbox.errors import (
    AutomationExecutionLimitExceeded,
    AutomationExecutionNotFound,
    AutomationStepNotFound,
    IdempotentParameterMismatch,
    InvalidAutomationSignal,
    InvalidAutomationStatusUpdate,
    ValidationException,
)
from sandbox.identity import Principal, matches_approver
from sandbox.settings import settings

UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SUPPORTED_ACTIONS = ("aws:approve",)
MAX_STEPS_PER_EXECUTION = 100  # stops a document whose steps loop through nextStep/onFailure


# --- operations ---------------------------------------------------------------------------

# Each API call (and each expiry pass) gets a number: the read lag shows what readers saw
# before the call, however many status changes the call made.
_call_numbers = itertools.count(1)
_call = 0
_starting_queued = False  # _start_queued is running (a started automation may end at once)


def _begin_call() -> None:
    global _call
    _call = next(_call_numbers)


def start_execution(
    backend: SimpleSystemManagerBackend,
    *,
    principal: Principal,
    region: str,
    partition: str,
    document_name: str,
    document_version: str | None,
    parameters: dict[str, list[str]] | None,
    client_token: str | None,
    mode: str | None,
    tags: dict[str, str] | None = None,
) -> str:
    with lock:
        expire_due()
        _begin_call()
        state = state_for(backend)
        fingerprint = json.dumps(
            [document_name, document_version or "$DEFAULT", parameters or {}, mode or "Auto"],
            sort_keys=True,
        )
        if client_token is not None:
            if not UUID_PATTERN.match(client_token):
                raise ValidationException(
                    f"ClientToken {client_token!r} is not a UUID "
                    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."
                )
            if client_token in state.client_tokens:
                return _reused_client_token(state, client_token, fingerprint)
        document = load_document(backend, document_name, document_version)
        resolved = resolve_parameters(document, parameters)
        _refuse_past_the_queue(state, backend.account_id, region)
        execution = AutomationExecution(
            execution_id=str(uuid.uuid4()),
            document=document,
            parameters=resolved,
            mode=mode or "Auto",
            executed_by=principal.arn,
            account_id=backend.account_id,
            region=region,
            partition=partition,
            assume_role="",
            tags=dict(tags or {}),
        )
        execution.assume_role = str(interpolate(document.assume_role, _variables(execution)))
        execution.created_call = _call
        state.executions[execution.execution_id] = execution
        if client_token is not None:
            state.client_tokens[client_token] = (fingerprint, execution.execution_id)
        _start_queued(state)  # this one too, if a slot is free; else it waits, Pending
        return execution.execution_id


def _reused_client_token(state: AutomationState, client_token: str, fingerprint: str) -> str:
    used_fingerprint, execution_id = state.client_tokens[client_token]
    if used_fingerprint != fingerprint:
        raise IdempotentParameterMismatch(
            f"ClientToken {client_token} was already used by automation execution "
            f"{execution_id} with a different request."
        )
    # docs/aws-behaviour.md#undocumented-client-token-reuse
    if settings.client_token_reuse == "idempotent_parameter_mismatch":
        raise IdempotentParameterMismatch(
            f"ClientToken {client_token} was already used by automation execution "
            f"{execution_id}: a ClientToken starts one automation; read that one "
            "(GetAutomationExecution) rather than starting it again."
        )
    return execution_id


def _refuse_past_the_queue(state: AutomationState, account_id: str, region: str) -> None:
    """Past the quota a new automation queues (Pending); past the queue it is refused
    (docs/aws-behaviour.md#ssm-automation-concurrency-queue)."""
    running = _slots_in_use(state)
    queued = len(_queued(state))
    if running < settings.max_concurrent_executions or queued < settings.automation_queue_size:
        return
    raise AutomationExecutionLimitExceeded(
        f"{running} automations are running and {queued} are queued in account {account_id}, "
        f"{region}: the concurrency quota is {settings.max_concurrent_executions} and the "
        f"queue holds {settings.automation_queue_size}. Wait for automations to end or stop "
        "some (StopAutomationExecution)."
    )


def get_execution(backend: SimpleSystemManagerBackend, execution_id: str) -> AutomationExecution:
    with lock:
        expire_due()
        execution = state_for(backend).executions.get(execution_id)
        if execution is None:
            raise AutomationExecutionNotFound(
                f"Automation execution {execution_id} does not exist."
            )
        return execution


def list_executions(backend: SimpleSystemManagerBackend) -> list[AutomationExecution]:
    with lock:
        expire_due()
        return list(state_for(backend).executions.values())


def read_view(execution: AutomationExecution, *, counted: bool = True) -> AutomationExecution:
    """What a Get/Describe read of ``execution`` shows: for ``status_read_lag_reads`` reads
    after a status change, the execution as it was before the change
    (docs/aws-behaviour.md#undocumented-read-after-event). ``counted``: the read uses one."""
    with lock:
        if execution.stale_reads_left > 0 and execution.stale_view is not None:
            if counted:
                execution.stale_reads_left -= 1
            return execution.stale_view
        return execution


def send_signal(
    backend: SimpleSystemManagerBackend,
    *,
    execution_id: str,
    signal_type: str,
    payload: dict[str, list[str]] | None,
    principal: Principal,
) -> None:
    with lock:
        execution = get_execution(backend, execution_id)
        _begin_call()
        if signal_type not in ("Approve", "Reject"):
            raise InvalidAutomationSignal(
                f"Signal {signal_type} is not supported by the sandbox (only Approve and Reject)."
            )
        if execution.status in TERMINAL_STATUSES:
            raise InvalidAutomationSignal(
                f"Automation execution {execution_id} has ended with status "
                f"{execution.status} and takes no more signals."
            )
        step = execution.current_step
        if step is None or step.action != "aws:approve" or step.status != "Waiting":
            raise AutomationStepNotFound(
                f"Automation execution {execution_id} has no aws:approve step waiting for approval."
            )
        entry = next(
            (
                item
                for item in step.approvers
                if matches_approver(
                    principal, item, execution.account_id, settings.approver_matching
                )
            ),
            None,
        )
        if entry is None:
            raise InvalidAutomationSignal(
                f"{principal.arn} is not an approver of automation execution {execution_id} "
                f"(approvers: {', '.join(step.approvers)})."
            )
        earlier = next(
            (d for d in step.decisions if d.entry == entry or d.approver == principal.arn), None
        )
        if earlier is not None:
            # docs/aws-behaviour.md#undocumented-duplicate-signal
            if settings.duplicate_signal == "refused":
                raise InvalidAutomationSignal(
                    f"{principal.arn} (approver {earlier.entry}) has already sent "
                    f"{earlier.decision} to automation execution {execution_id}: an approver "
                    "decides once."
                )
            return  # an approver deciding twice counts once
        _remember_before_change(execution)
        comment = "\n".join((payload or {}).get("Comment", []))
        step.decisions.append(Decision(principal.arn, entry, signal_type, clock.now(), comment))
        _decide(execution, step)


def _decide(execution: AutomationExecution, step: StepExecution) -> None:
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


def stop_execution(
    backend: SimpleSystemManagerBackend, execution_id: str, stop_type: str | None
) -> None:
    with lock:
        execution = get_execution(backend, execution_id)
        _begin_call()
        stop_type = stop_type or "Cancel"
        if stop_type not in ("Cancel", "Complete"):
            raise ValidationException(f"Type {stop_type} is not Cancel or Complete.")
        if execution.status in TERMINAL_STATUSES:
            raise InvalidAutomationStatusUpdate(
                f"Automation execution {execution_id} has already ended with status "
                f"{execution.status}."
            )
        step = execution.current_step
        if stop_type == "Cancel":
            _set_execution_status(execution, "Cancelling")
        if step is not None and step.status not in TERMINAL_STATUSES:
            _set_step_status(
                execution, step, "Cancelled", f"Stopped by StopAutomationExecution ({stop_type})."
            )
        # "Complete" ends the automation as finished rather than cancelled; AWS does not
        # document the resulting status, the sandbox uses Success.
        _finish_execution(execution, "Cancelled" if stop_type == "Cancel" else "Success")


def expire_due() -> list[str]:
    """Time out every waiting step whose deadline passed, then start queued automations
    that now have a slot (settings may have changed); returns the timed-out ids."""
    expired: list[str] = []
    with lock:
        _begin_call()
        now = clock.now()
        for state in all_states():
            for execution in list(state.executions.values()):
                reason = _timeout_reason(execution, now)
                if reason is None:
                    continue
                step = execution.current_step
                if step is not None and step.status not in TERMINAL_STATUSES:
                    _set_step_status(execution, step, "TimedOut", reason)
                _finish_execution(execution, "TimedOut", reason)
                expired.append(execution.execution_id)
            _start_queued(state)
    return expired


# --- the queue (docs/aws-behaviour.md#ssm-automation-concurrency-queue) ---------------------


def _holds_slot(execution: AutomationExecution) -> bool:
    if execution.status in TERMINAL_STATUSES or execution.status == "Pending":
        return False
    # docs/aws-behaviour.md#undocumented-waiting-holds-slot
    return settings.waiting_holds_slot or execution.status != "Waiting"


def _slots_in_use(state: AutomationState) -> int:
    return sum(1 for execution in state.executions.values() if _holds_slot(execution))


def _queued(state: AutomationState) -> list[AutomationExecution]:
    """Automations waiting for a slot, oldest first (executions keep their start order)."""
    return [item for item in state.executions.values() if item.status == "Pending"]


def _start_queued(state: AutomationState) -> None:
    """Start the oldest queued automations while slots are free."""
    global _starting_queued
    if _starting_queued:
        return  # an automation started from here changed status: the loop below goes on
    _starting_queued = True
    try:
        while _slots_in_use(state) < settings.max_concurrent_executions:
            queued = _queued(state)
            if not queued:
                return
            execution = queued[0]
            execution.running_since = clock.now()  # its step's timeout counts from now
            _set_execution_status(execution, "InProgress")
            _run_from(execution, 0)
    finally:
        _starting_queued = False


# --- the step engine ----------------------------------------------------------------------


def _timeout_reason(execution: AutomationExecution, now: datetime) -> str | None:
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
        _finish_execution(execution, "Success")
        return
    if len(execution.steps) >= MAX_STEPS_PER_EXECUTION:
        _finish_execution(
            execution, "Failed", f"More than {MAX_STEPS_PER_EXECUTION} steps ran: a loop?"
        )
        return
    step = StepExecution(definition=dict(main_steps[index]))
    execution.steps.append(step)
    _set_step_status(execution, step, "InProgress")
    step.inputs = interpolate(step.definition.get("inputs") or {}, _variables(execution))
    if step.action == "aws:approve":
        problem = start_approval(execution, step)
        if problem is None:
            _set_step_status(execution, step, "Waiting")
            _set_execution_status(execution, "Waiting")
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
    _set_step_status(execution, step, status, failure)
    if execution.status == "Waiting":
        _set_execution_status(execution, "InProgress")
    if status not in ("Success", "Failed"):
        # A variant's end (Approved, Rejected, CompletedWith...) is the automation's end too
        # (docs/aws-behaviour.md#undocumented-approval-status, #undocumented-rejection-status).
        reason = None if status in SUCCESS_STATUSES else f"Step {step.name}: {failure}"
        _finish_execution(execution, status, reason)
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
            _finish_execution(execution, "Success")
        else:
            _finish_execution(execution, "Failed", f"Step {step.name} failed: {failure}")
        return
    if step.definition.get("isEnd"):
        _finish_execution(execution, "Success")
    elif step.definition.get("nextStep") in names:
        _run_from(execution, names.index(step.definition["nextStep"]))
    else:
        _run_from(execution, index + 1)


def _finish_execution(
    execution: AutomationExecution, status: str, failure: str | None = None
) -> None:
    outputs: dict[str, list[str]] = {}
    for reference in execution.document.outputs:
        step_name, _, output_name = str(reference).partition(".")
        for step in execution.steps:
            if step.name == step_name and output_name in step.outputs:
                outputs[str(reference)] = list(step.outputs[output_name])
    _remember_before_change(execution)
    execution.outputs = outputs
    execution.failure_message = failure
    _set_execution_status(execution, status)


def _set_step_status(
    execution: AutomationExecution, step: StepExecution, status: str, failure: str | None = None
) -> None:
    if step.status == status:
        return
    _remember_before_change(execution)
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
    detail = events.base_detail(
        execution_id=execution.execution_id,
        document_name=execution.document.name,
        document_version=execution.document.version,
        status=status,
        start=step.start,
        end=step.end,
    )
    detail.update({"StepName": step.name, "Action": step.action})
    events.put_event(
        account_id=execution.account_id,
        region=execution.region,
        detail_type=events.STEP_DETAIL_TYPE,
        resources=[execution.arn, execution.definition_arn],
        detail=detail,
    )


def _set_execution_status(execution: AutomationExecution, status: str) -> None:
    if execution.status == status:
        return
    _remember_before_change(execution)
    execution.status = status
    if status in TERMINAL_STATUSES:
        execution.end = clock.now()
    _lag_reads(execution)
    detail = events.base_detail(
        execution_id=execution.execution_id,
        document_name=execution.document.name,
        document_version=execution.document.version,
        status=status,
        start=execution.start,
        end=execution.end,
    )
    detail["ExecutedBy"] = execution.executed_by
    events.put_event(
        account_id=execution.account_id,
        region=execution.region,
        detail_type=events.EXECUTION_DETAIL_TYPE,
        resources=[execution.arn, execution.definition_arn],
        detail=detail,
    )
    if status in TERMINAL_STATUSES or status == "Waiting":
        _start_queued(state_of(execution))  # a slot may have freed


# --- read lag (docs/aws-behaviour.md#undocumented-read-after-event) -------------------------


def _remember_before_change(execution: AutomationExecution) -> None:
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


def _variables(execution: AutomationExecution) -> dict[str, Any]:
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
