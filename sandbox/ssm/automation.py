"""SSM Automation's operations on moto's SSM backends: start, read, signal, stop, expire.

``sandbox.ssm.responses`` serves them as the SSM API; the step engine runs the automations
(``sandbox.ssm.engine``). Time comes from ``sandbox.core.clock``; due timeouts are applied
lazily by every Automation call and by ``expire_due()``. Past ``max_concurrent_executions``
running automations a new one queues (``Pending``) until a slot frees. Where AWS documents
nothing, ``sandbox.settings`` picks the behaviour (docs/aws-behaviour.md, the anchors below).
"""

from __future__ import annotations

import json
import re
import uuid

from moto.ssm.models import SimpleSystemManagerBackend

from sandbox.core.clock import clock
from sandbox.core.settings import settings
from sandbox.ssm import engine
from sandbox.ssm.document import interpolate, load_document, resolve_parameters
from sandbox.ssm.exceptions import (
    AutomationExecutionLimitExceeded,
    AutomationExecutionNotFound,
    AutomationStepNotFound,
    IdempotentParameterMismatch,
    InvalidAutomationSignal,
    InvalidAutomationStatusUpdate,
    ValidationException,
)
from sandbox.ssm.identity import Principal, matches_approver
from sandbox.ssm.models import (
    TERMINAL_STATUSES,
    AutomationExecution,
    AutomationState,
    Decision,
    all_states,
    lock,
    state_for,
)

UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


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
        call = engine.begin_call()
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
        variables = engine.variables_of(execution)
        execution.assume_role = str(interpolate(document.assume_role, variables))
        execution.created_call = call
        state.executions[execution.execution_id] = execution
        if client_token is not None:
            state.client_tokens[client_token] = (fingerprint, execution.execution_id)
        engine.start_queued(state)  # this one too, if a slot is free; else it waits, Pending
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
    running = engine.slots_in_use(state)
    queued = len(engine.queued(state))
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
        engine.begin_call()
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
        engine.remember_before_change(execution)
        comment = "\n".join((payload or {}).get("Comment", []))
        step.decisions.append(Decision(principal.arn, entry, signal_type, clock.now(), comment))
        engine.decide(execution, step)


def stop_execution(
    backend: SimpleSystemManagerBackend, execution_id: str, stop_type: str | None
) -> None:
    with lock:
        execution = get_execution(backend, execution_id)
        engine.begin_call()
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
            engine.set_execution_status(execution, "Cancelling")
        if step is not None and step.status not in TERMINAL_STATUSES:
            engine.set_step_status(
                execution, step, "Cancelled", f"Stopped by StopAutomationExecution ({stop_type})."
            )
        # "Complete" ends the automation as finished rather than cancelled; AWS does not
        # document the resulting status, the sandbox uses Success.
        engine.finish_execution(execution, "Cancelled" if stop_type == "Cancel" else "Success")


def expire_due() -> list[str]:
    """Time out every waiting step whose deadline passed, then start queued automations
    that now have a slot (settings may have changed); returns the timed-out ids."""
    expired: list[str] = []
    with lock:
        engine.begin_call()
        now = clock.now()
        for state in all_states():
            for execution in list(state.executions.values()):
                reason = engine.timeout_reason(execution, now)
                if reason is None:
                    continue
                step = execution.current_step
                if step is not None and step.status not in TERMINAL_STATUSES:
                    engine.set_step_status(execution, step, "TimedOut", reason)
                engine.finish_execution(execution, "TimedOut", reason)
                expired.append(execution.execution_id)
            engine.start_queued(state)
    return expired
