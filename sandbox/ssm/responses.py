"""The Automation operations as methods of moto's SSM response class.

moto dispatches an SSM request to the ``SimpleSystemManagerResponse`` method named after the
action (``StartAutomationExecution`` -> ``start_automation_execution``), in-process under
``mock_aws`` and in server mode alike; ``install()`` adds the methods below to that class.
Responses are plain dicts that moto serializes with botocore's ``ssm`` output shapes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import get_service_model
from moto.ssm.responses import SimpleSystemManagerResponse

from sandbox.ssm import automation, rate_quotas
from sandbox.ssm.exceptions import (
    InvalidFilterKey,
    InvalidFilterValue,
    InvalidNextToken,
    ValidationException,
)
from sandbox.ssm.identity import Principal, resolve_caller
from sandbox.ssm.models import AutomationExecution, StepExecution, lock

EXECUTION_STATUSES = tuple(get_service_model("ssm").shape_for("AutomationExecutionStatus").enum)
# Rate-control and multi-account automations: the sandbox runs local automations only.
UNSUPPORTED_START_PARAMETERS = (
    "TargetParameterName",
    "Targets",
    "TargetMaps",
    "MaxConcurrency",
    "MaxErrors",
    "TargetLocations",
    "TargetLocationsURL",
    "AlarmConfiguration",
)
MAX_PAGE_SIZE = 50


# --- response methods (``self`` is a SimpleSystemManagerResponse) --------------------------


def start_automation_execution(self: SimpleSystemManagerResponse) -> ActionResult:
    unsupported = [name for name in UNSUPPORTED_START_PARAMETERS if self._get_param(name)]
    if unsupported:
        raise ValidationException(f"{', '.join(unsupported)}: not supported by the sandbox.")
    execution_id = automation.start_execution(
        self.ssm_backend,
        principal=_caller(self),
        region=self.region,
        partition=self.partition,
        document_name=self._get_param("DocumentName"),
        document_version=self._get_param("DocumentVersion"),
        parameters=self._get_param("Parameters"),
        client_token=self._get_param("ClientToken"),
        mode=self._get_param("Mode"),
        tags=_tags(self._get_param("Tags")),
    )
    return ActionResult({"AutomationExecutionId": execution_id})


# Reads go through automation.read_view: after a status change they may show the previous
# state for a few reads (docs/aws-behaviour.md#undocumented-read-after-event).


def get_automation_execution(self: SimpleSystemManagerResponse) -> ActionResult:
    execution = automation.get_execution(self.ssm_backend, self._get_param("AutomationExecutionId"))
    return ActionResult({"AutomationExecution": execution_view(automation.read_view(execution))})


def describe_automation_executions(self: SimpleSystemManagerResponse) -> ActionResult:
    filters = self._get_param("Filters") or []
    current = {e.execution_id: e for e in automation.list_executions(self.ssm_backend)}
    # Filter what readers see now; each execution the call reads (those its ExecutionId
    # filter names, else all) uses up a lagging read, listed or not.
    executions = [automation.read_view(e, counted=False) for e in current.values()]
    read = list(executions)
    for item in filters:
        executions = _filter_executions(executions, item["Key"], item.get("Values", []))
        if item["Key"] == "ExecutionId":
            read = _filter_executions(read, item["Key"], item.get("Values", []))
    for execution in read:
        automation.read_view(current[execution.execution_id])
    executions.sort(key=lambda execution: execution.start, reverse=True)
    page, next_token = _page(
        executions, self._get_param("MaxResults"), self._get_param("NextToken")
    )
    result: dict[str, Any] = {"AutomationExecutionMetadataList": [metadata_view(e) for e in page]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def describe_automation_step_executions(self: SimpleSystemManagerResponse) -> ActionResult:
    execution = automation.get_execution(self.ssm_backend, self._get_param("AutomationExecutionId"))
    execution = automation.read_view(execution)
    steps = list(execution.steps)
    for item in self._get_param("Filters") or []:
        steps = _filter_steps(steps, item["Key"], item.get("Values", []))
    if self._get_param("ReverseOrder"):
        steps.reverse()
    page, next_token = _page(steps, self._get_param("MaxResults"), self._get_param("NextToken"))
    result: dict[str, Any] = {"StepExecutions": [step_view(step) for step in page]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def send_automation_signal(self: SimpleSystemManagerResponse) -> ActionResult:
    automation.send_signal(
        self.ssm_backend,
        execution_id=self._get_param("AutomationExecutionId"),
        signal_type=self._get_param("SignalType"),
        payload=self._get_param("Payload"),
        principal=_caller(self),
    )
    return EmptyResult()


def stop_automation_execution(self: SimpleSystemManagerResponse) -> ActionResult:
    automation.stop_execution(
        self.ssm_backend, self._get_param("AutomationExecutionId"), self._get_param("Type")
    )
    return EmptyResult()


MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256


def _tags(given: list[dict[str, str]] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in given or []:
        key, value = str(tag.get("Key", "")), str(tag.get("Value", ""))
        if not 1 <= len(key) <= MAX_TAG_KEY_CHARS or len(value) > MAX_TAG_VALUE_CHARS:
            raise ValidationException(
                f"Tag {key!r}: a key takes 1 to {MAX_TAG_KEY_CHARS} characters, a value at most "
                f"{MAX_TAG_VALUE_CHARS}."
            )
        tags[key] = value
    return tags


ResponseMethod = Callable[[SimpleSystemManagerResponse], ActionResult]


def _served(method: ResponseMethod) -> ResponseMethod:
    action = "".join(word.title() for word in method.__name__.split("_"))

    @functools.wraps(method)
    def served(self: SimpleSystemManagerResponse) -> ActionResult:
        # The action's API rate first (ThrottlingException past it), then the state lock
        # while the response is built, so no signal changes it half-read.
        rate_quotas.take(self.current_account, self.region, action)
        with lock:
            return method(self)

    return served


RESPONSE_METHODS: dict[str, ResponseMethod] = {
    method.__name__: _served(method)
    for method in (
        start_automation_execution,
        get_automation_execution,
        describe_automation_executions,
        describe_automation_step_executions,
        send_automation_signal,
        stop_automation_execution,
    )
}


def install() -> None:
    """Add the Automation operations to moto's SSM responses (idempotent)."""
    for name, method in RESPONSE_METHODS.items():
        # moto finds an action's method by name on the class (inspect.isfunction).
        setattr(SimpleSystemManagerResponse, name, method)


def _caller(self: SimpleSystemManagerResponse) -> Principal:
    return resolve_caller(self.access_key, self.current_account, self.region)


# --- views: the botocore shapes -----------------------------------------------------------


def step_view(step: StepExecution) -> dict[str, Any]:
    view: dict[str, Any] = {
        "StepName": step.name,
        "Action": step.action,
        "TimeoutSeconds": step.timeout_seconds,
        "OnFailure": step.on_failure,
        "MaxAttempts": int(step.definition.get("maxAttempts", 1)),
        "StepStatus": step.status,
        # Step inputs come back JSON-encoded, as GetAutomationExecution shows them.
        "Inputs": {name: json.dumps(value) for name, value in step.inputs.items()},
        "Outputs": step.outputs,
        "StepExecutionId": step.step_execution_id,
        "IsEnd": bool(step.definition.get("isEnd", False)),
        "IsCritical": bool(step.definition.get("isCritical", True)),
    }
    if step.definition.get("nextStep"):
        view["NextStep"] = step.definition["nextStep"]
    if step.start:
        view["ExecutionStartTime"] = step.start
    if step.end:
        view["ExecutionEndTime"] = step.end
    if step.failure_message:
        view["FailureMessage"] = step.failure_message
    return view


def execution_view(execution: AutomationExecution) -> dict[str, Any]:
    view = _common_view(execution)
    view.update(
        {
            "StepExecutions": [step_view(step) for step in execution.steps],
            "StepExecutionsTruncated": False,
            "Parameters": execution.parameters,
        }
    )
    return view


def metadata_view(execution: AutomationExecution) -> dict[str, Any]:
    view = _common_view(execution)
    view.update({"LogFile": "", "AutomationType": "Local"})
    return view


def _common_view(execution: AutomationExecution) -> dict[str, Any]:
    view: dict[str, Any] = {
        "AutomationExecutionId": execution.execution_id,
        "DocumentName": execution.document.name,
        "DocumentVersion": execution.document.version,
        "AutomationExecutionStatus": execution.status,
        "ExecutionStartTime": execution.start,
        "ExecutedBy": execution.executed_by,
        "Mode": execution.mode,
        "Outputs": execution.outputs,
    }
    if execution.end:
        view["ExecutionEndTime"] = execution.end
    if execution.failure_message:
        view["FailureMessage"] = execution.failure_message
    current = execution.current_step
    if current is not None:
        view["CurrentStepName"] = current.name
        view["CurrentAction"] = current.action
    return view


# --- filters and pages --------------------------------------------------------------------


def _filter_executions(
    executions: list[AutomationExecution], key: str, values: list[str]
) -> list[AutomationExecution]:
    if key == "ExecutionId":
        return [e for e in executions if e.execution_id in values]
    if key == "DocumentNamePrefix":
        return [e for e in executions if any(e.document.name.startswith(v) for v in values)]
    if key == "ExecutionStatus":
        unknown = [v for v in values if v not in EXECUTION_STATUSES]
        if unknown:
            raise InvalidFilterValue(f"ExecutionStatus values {unknown} are not statuses.")
        return [e for e in executions if e.status in values]
    if key == "CurrentAction":
        return [e for e in executions if e.current_step and e.current_step.action in values]
    if key == "TagKey":  # matches tag keys
        return [e for e in executions if any(v in e.tags for v in values)]
    if key == "AutomationType":
        return [e for e in executions if "Local" in values]
    if key in ("StartTimeBefore", "StartTimeAfter"):
        moment = _filter_time(key, values)
        if key == "StartTimeBefore":
            return [e for e in executions if e.start < moment]
        return [e for e in executions if e.start > moment]
    raise InvalidFilterKey(f"Filter key {key} is not supported by the sandbox.")


def _filter_steps(steps: list[StepExecution], key: str, values: list[str]) -> list[StepExecution]:
    if key == "StepName":
        return [s for s in steps if s.name in values]
    if key == "Action":
        return [s for s in steps if s.action in values]
    if key == "StepExecutionStatus":
        wanted = {value.lower() for value in values}
        return [s for s in steps if s.status.lower() in wanted]
    if key == "StepExecutionId":
        return [s for s in steps if s.step_execution_id in values]
    if key in ("StartTimeBefore", "StartTimeAfter"):
        moment = _filter_time(key, values)
        if key == "StartTimeBefore":
            return [s for s in steps if s.start and s.start < moment]
        return [s for s in steps if s.start and s.start > moment]
    raise InvalidFilterKey(f"Filter key {key} is not supported by the sandbox.")


def _filter_time(key: str, values: list[str]) -> datetime:
    try:
        moment = datetime.fromisoformat(values[0])
    except (IndexError, ValueError) as error:
        raise InvalidFilterValue(f"{key} needs one ISO 8601 time, got {values}.") from error
    if moment.tzinfo is None:
        raise InvalidFilterValue(f"{key} needs a time with a zone (e.g. ...Z), got {values[0]}.")
    return moment


def _page(items: list[Any], max_results: int | None, next_token: str | None) -> tuple[list, str]:
    size = MAX_PAGE_SIZE if max_results is None else int(max_results)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationException(f"MaxResults must be 1 to {MAX_PAGE_SIZE}, got {size}.")
    start = 0
    if next_token:
        if not next_token.isdigit() or int(next_token) > len(items):
            raise InvalidNextToken(f"NextToken {next_token} is not valid.")
        start = int(next_token)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else "")
