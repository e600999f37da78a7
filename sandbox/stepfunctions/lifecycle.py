"""Step Functions executions start, end and stop as in AWS (moto's ASL engine lacks these).

- ``Step Functions Execution Status Change`` events on the default EventBridge bus (through
  moto's events backend, so rules and the sandbox's targets see them), as Standard workflows
  send them: source ``aws.states``, ``resources`` = [executionArn], ``detail`` with
  ``executionArn``, ``stateMachineArn``, ``name``, ``status`` (RUNNING, SUCCEEDED, FAILED,
  TIMED_OUT, ABORTED), ``startDate``/``stopDate`` (epoch milliseconds, ``stopDate`` null while
  running), ``input``/``output`` (JSON strings, ``output`` null unless SUCCEEDED),
  ``inputDetails``/``outputDetails``, ``stateMachineVersionArn``/``stateMachineAliasArn``, and
  ``error``/``cause`` for FAILED, TIMED_OUT and ABORTED. One event per status change: RUNNING
  when the execution starts, then its terminal status. Express workflows send none.
- ``StopExecution`` stops any running execution at once, one that waits for a task token
  included (moto's engine only marks it, and it runs on until the token comes back): status
  ABORTED, ``stopDate``, the ``error``/``cause`` given, ``ExecutionAborted`` in the history.
  StopExecution of a finished execution changes nothing.
- A task token whose task is closed (its execution ended or was stopped, its task timed out
  or already got its answer) is refused as AWS does: ``TaskTimedOut``, "Task Timed Out:
  'Provided task does not exist anymore'" (moto answers ``InvalidToken``, accepts it
  silently, or fails with a 500).
- An execution-level ``TimeoutSeconds`` (moto supports it, in real seconds) also ends an
  execution that waits for a task token: TIMED_OUT, ``ExecutionTimedOut`` in the history.

Hooks on moto's engine (``moto.stepfunctions.parser``):
``backend.execution.Execution.start`` (RUNNING), ``BaseExecutionWorkerCommunication.terminated``
(the engine's end of an execution: SUCCEEDED, FAILED, TIMED_OUT), ``EventManager.add_event``
(an execution's history is closed after its terminal event: the engine thread of a stopped or
timed-out execution, woken up, adds nothing after it), and ``StepFunctionsParserBackend``'s
``send_task_success`` / ``send_task_failure`` / ``send_task_heartbeat``. ``stop`` is called by
the StopExecution response (``sandbox.stepfunctions.responses``).
"""

from __future__ import annotations

import datetime
import logging
import sys
import threading
import time
from typing import Any

from moto.stepfunctions.parser.api import (
    ExecutionStatus,
    HistoryEventType,
    TaskTimedOut,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import (
    EventHistoryContext,
    EventManager,
)
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from sandbox.core.event_bus import put_event

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
TERMINAL_HISTORY_EVENTS = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
)
TASK_CLOSED_MESSAGE = "Task Timed Out: 'Provided task does not exist anymore'"

_log = logging.getLogger(__name__)
_lock = threading.RLock()  # an execution's end: by the engine or by StopExecution
_installed = False
_original_add_event: Any = None

# Attributes the sandbox keeps on moto's objects.
_CLOSED = "_sandbox_closed"  # on an Execution: its end is recorded, nothing changes it
_EMITTED = "_sandbox_emitted"  # on an Execution: the statuses already sent to EventBridge
_HISTORY_CLOSED = "_sandbox_history_closed"  # on an EventManager
_HISTORY_LOCK = "_sandbox_history_lock"  # on an EventManager


def _status(execution: Any) -> str | None:
    """moto's ``Execution.status`` fails before the start has set one."""
    return getattr(execution.exec_status, "value", None)


def _millis(moment: datetime.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _json(value: Any) -> str:
    return to_json_str(value, separators=(",", ":"))


def _is_express(execution: Any) -> bool:
    return str(getattr(execution.state_machine, "type", "STANDARD")).upper() == "EXPRESS"


def execution_detail(execution: Any, status: str) -> dict[str, Any]:
    """The ``detail`` of a status-change event of ``execution`` (moto's parser Execution)."""
    machine = execution.state_machine
    version_arn = None
    machine_arn = machine.arn
    if getattr(machine, "source_arn", None):  # started through a version ARN
        version_arn, machine_arn = machine.arn, machine.source_arn
    succeeded = status == "SUCCEEDED"
    detail: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": machine_arn,
        "stateMachineVersionArn": version_arn,
        "stateMachineAliasArn": None,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": None if status == "RUNNING" else _millis(execution.stop_date),
        "input": _json(execution.input_data),
        "inputDetails": {"included": True},
        "output": _json(execution.output) if succeeded else None,
        "outputDetails": {"included": True} if succeeded else None,
    }
    if status in ("FAILED", "TIMED_OUT", "ABORTED"):
        detail["error"] = execution.error
        detail["cause"] = execution.cause
    return detail


def emit(execution: Any, status: str) -> None:
    """Send the status-change event of ``execution`` once per status (Standard workflows)."""
    if _is_express(execution):
        return
    with _lock:
        emitted: set[str] = execution.__dict__.setdefault(_EMITTED, set())
        if status in emitted:
            return
        emitted.add(status)
        detail = execution_detail(execution, status)
    try:
        put_event(
            account_id=execution.account_id,
            region=execution.region_name,
            detail_type=DETAIL_TYPE,
            resources=[execution.exec_arn],
            detail=detail,
            source=SOURCE,
        )
    except Exception:  # an unroutable event must not break the execution
        _log.exception("could not emit %s for %s", status, execution.exec_arn)


# --- an execution's history, closed after its terminal event ------------------------------


def _history_lock(manager: Any) -> threading.Lock:
    lock: threading.Lock = manager.__dict__.setdefault(_HISTORY_LOCK, threading.Lock())
    return lock


def _add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
    with _history_lock(self):
        if getattr(self, _HISTORY_CLOSED, False):
            return 0  # the execution has ended: the history already has its last event
        return int(_original_add_event(self, context, event_type, *args, **kwargs))


def _close_history(env: Any, event_type: Any = None, **details: Any) -> bool:
    """Close ``env``'s history, after adding ``event_type`` unless it already ended.

    Returns False if the engine had already recorded a terminal event."""
    manager = env.event_manager
    with _history_lock(manager):
        if getattr(manager, _HISTORY_CLOSED, False):
            return False
        ended = any(
            str(getattr(event["type"], "value", event["type"])) in TERMINAL_HISTORY_EVENTS
            for event in manager.get_event_history()
        )
        if event_type is not None and not ended:
            name = str(getattr(event_type, "value", event_type))
            context = (
                EventHistoryContext.of_program_start()  # as moto's engine does for aborts
                if name == "ExecutionAborted"
                else env.event_history_context
            )
            key = name[0].lower() + name[1:] + "EventDetails"
            _original_add_event(
                manager,
                context=context,
                event_type=event_type,
                event_details=EventDetails(**{key: details}),  # type: ignore[misc]
            )
        setattr(manager, _HISTORY_CLOSED, True)
        return not ended


def _release_tokens(env: Any) -> None:
    """Wake the engine's threads that wait for a task token (they find the execution ended)."""
    for endpoint in list(env.callback_pool_manager._pool.values()):
        endpoint.interrupt_all()


# --- engine hooks -------------------------------------------------------------------------


def _start(original: Any) -> Any:
    def start(self: Any) -> None:
        if self.exec_worker is None:  # moto raises for a second start
            emit(self, "RUNNING")  # before the engine's thread exists: RUNNING comes first
        original(self)

    return start


def _terminated(original: Any) -> Any:
    def terminated(self: Any) -> None:
        execution = self.execution
        with _lock:
            if getattr(execution, _CLOSED, False):  # stopped by StopExecution meanwhile
                return
            original(self)  # moto: status, stopDate, output, error, cause from the program
            setattr(execution, _CLOSED, True)
            status = str(_status(execution))
            env = execution.exec_worker.env
        if env is not None:
            if status == "TIMED_OUT":
                # moto records ExecutionTimedOut only if the engine's thread ends by itself,
                # which a task waiting for a token never does.
                _close_history(env, HistoryEventType.ExecutionTimedOut)
            else:
                _close_history(env)
            _release_tokens(env)
        emit(execution, status)

    return terminated


def _refuse_closed_task(backend: Any, task_token: str) -> None:
    """``TaskTimedOut`` for a token whose task is closed; anything else goes to moto."""
    for execution in backend._get_executions():
        env = execution.exec_worker.env if execution.exec_worker else None
        endpoint = env.callback_pool_manager.get(task_token) if env is not None else None
        if endpoint is None:
            continue
        closed = (
            getattr(execution, _CLOSED, False)
            or _status(execution) != "RUNNING"
            or endpoint.consumer_error is not None
            or endpoint._notify_event.is_set()  # answered, timed out or interrupted
        )
        if closed:
            raise TaskTimedOut(TASK_CLOSED_MESSAGE, "TaskTimedOut")
        return


def _task_callback(original: Any) -> Any:
    def callback(self: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
        _refuse_closed_task(self, task_token)
        return original(self, task_token, *args, **kwargs)

    callback.__name__ = original.__name__
    return callback


# --- StopExecution ------------------------------------------------------------------------


def stop(execution: Any, error: str | None, cause: str | None) -> datetime.datetime:
    """Abort a running execution now; a finished one stays as it is. Returns its stopDate."""
    install()
    env = _wait_for_environment(execution)
    with _lock:
        if getattr(execution, _CLOSED, False) or _status(execution) != "RUNNING" or env is None:
            return execution.stop_date or datetime.datetime.now(datetime.UTC)
        stop_date = datetime.datetime.now(datetime.UTC)
        details = {key: value for key, value in (("error", error), ("cause", cause)) if value}
        if not _close_history(env, HistoryEventType.ExecutionAborted, **details):
            # The program ended a moment ago; the engine reports it.
            return stop_date
        setattr(execution, _CLOSED, True)
        execution.exec_status = ExecutionStatus.ABORTED
        execution.stop_date = stop_date
        execution.error = error
        execution.cause = cause
        # moto's own stop: the program state (a Wait, a Retry interval, a Map end at once).
        env.set_stop(stop_date=stop_date, cause=cause, error=error)
    _release_tokens(env)
    emit(execution, "ABORTED")
    return stop_date


def _wait_for_environment(execution: Any, timeout: float = 5.0) -> Any:
    """The engine creates an execution's environment on its thread, just after the start."""
    deadline = time.monotonic() + timeout
    while True:
        worker = execution.exec_worker
        env = worker.env if worker is not None else None
        starting = _status(execution) in (None, "RUNNING")
        if env is not None or not starting or time.monotonic() > deadline:
            return env
        time.sleep(0.005)


class _StoppedExecutionNoise(logging.Filter):
    """A stopped execution's waiting thread wakes with a States.Timeout that moto logs as an
    ERROR: AWS logs nothing of the kind, and the history and status are already right. The
    record is dropped when the evaluation that logs it (moto's ``EvalComponent.eval``, a few
    frames up, holding ``env``) belongs to an execution that is no longer running."""

    def filter(self, record: logging.LogRecord) -> bool:
        frame = sys._getframe(1)
        for _ in range(12):
            if frame is None:
                break
            env = frame.f_locals.get("env")
            if env is not None and hasattr(env, "is_running"):
                return bool(env.is_running())
            frame = frame.f_back
        return True


def install() -> None:
    """Hook moto's ASL engine (idempotent)."""
    global _installed, _original_add_event
    with _lock:
        if _installed:
            return
        Execution.start = _start(Execution.start)  # type: ignore[method-assign]
        logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").addFilter(
            _StoppedExecutionNoise()
        )
        BaseExecutionWorkerCommunication.terminated = _terminated(  # type: ignore[method-assign]
            BaseExecutionWorkerCommunication.terminated
        )
        _original_add_event = EventManager.add_event
        EventManager.add_event = _add_event  # type: ignore[method-assign]
        for name in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
            setattr(
                StepFunctionsParserBackend,
                name,
                _task_callback(getattr(StepFunctionsParserBackend, name)),
            )
        _installed = True
