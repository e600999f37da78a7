"""Step Functions as AWS documents it, where moto's responses differ or are missing.

- SendTaskFailure keeps its `cause`: moto 5.2.5's response drops it, although its execution
  engine takes one, and a workflow would lose the readable reason of every failure.
- ValidateStateMachineDefinition: the Terraform AWS provider calls it before it creates a
  state machine; moto answers 500, which the provider retries for minutes. The definition
  is checked with moto's own ASL parser (the engine that will run it).
- ListStateMachineVersions: the provider reads it after create; moto keeps versions but
  has no such operation.
- StopExecution keeps its `error` and `cause` and stops the execution at once, one that waits
  for a task token included; a finished execution stays as it is
  (``sandbox.stepfunctions.lifecycle``, which also sends the executions' status-change events).
- DescribeExecution gives a TIMED_OUT execution its `stopDate` (moto leaves it out).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from sandbox.stepfunctions import lifecycle

_original_describe_execution = StepFunctionResponse.describe_execution
_original_stop_execution = StepFunctionResponse.stop_execution


def _named_start(original: Any) -> Any:
    """An execution started without ``name`` gets a unique generated one, as in AWS
    (docs/aws-behaviour.md#sfn-start-execution-name); moto names every such one ``None``,
    so the second fails with ExecutionAlreadyExists."""

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    start_execution.sandbox_named = True  # type: ignore[attr-defined]
    return start_execution


def _send_task_failure(self: StepFunctionResponse) -> EmptyResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"),
        error=self._get_param("error"),
        cause=self._get_param("cause"),
    )
    return EmptyResult()


def _stop_execution(self: StepFunctionResponse) -> ActionResult:
    backend = self.stepfunction_backend
    if not isinstance(backend, StepFunctionsParserBackend):  # no engine: moto's bookkeeping
        return _original_stop_execution(self)  # type: ignore[no-any-return]
    execution = backend.describe_execution(self._get_param("executionArn"))
    stop_date = lifecycle.stop(
        execution, error=self._get_param("error"), cause=self._get_param("cause")
    )
    return ActionResult({"stopDate": stop_date})


def _describe_execution(self: StepFunctionResponse) -> ActionResult:
    result: ActionResult = _original_describe_execution(self)
    body = result.result
    if isinstance(body, dict) and body.get("status") == "TIMED_OUT" and "stopDate" not in body:
        execution = self.stepfunction_backend.describe_execution(body["executionArn"])
        body["stopDate"] = execution.stop_date
    return result


def _validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    try:
        AmazonStateLanguageParser.parse(self._get_param("definition"))
    except Exception as error:  # the parser raises many types for an invalid definition
        diagnostic = {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": str(error) or type(error).__name__,
        }
        return ActionResult({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})
    return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})


def _list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions: list[dict[str, Any]] = [
        {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date}
        for _, version in sorted(machine.versions.items(), reverse=True)
    ]
    return ActionResult({"stateMachineVersions": versions})


RESPONSE_METHODS = {
    "send_task_failure": _send_task_failure,
    "stop_execution": _stop_execution,
    "describe_execution": _describe_execution,
    "validate_state_machine_definition": _validate_state_machine_definition,
    "list_state_machine_versions": _list_state_machine_versions,
}


def install() -> None:
    """Add the operations to moto's Step Functions responses (idempotent)."""
    for name, method in RESPONSE_METHODS.items():
        setattr(StepFunctionResponse, name, method)
    for backend in (StepFunctionBackend, StepFunctionsParserBackend):
        if not getattr(backend.start_execution, "sandbox_named", False):
            backend.start_execution = _named_start(backend.start_execution)  # type: ignore[method-assign]
