"""Step Functions as AWS documents it, where moto's responses differ.

moto 5.2.5's SendTaskFailure response drops `cause`, although its execution engine takes
one: a workflow would lose the readable reason the gate sends with every failure.
"""

from __future__ import annotations

from moto.core.responses import EmptyResult
from moto.stepfunctions.responses import StepFunctionResponse


def _send_task_failure(self: StepFunctionResponse) -> EmptyResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"),
        error=self._get_param("error"),
        cause=self._get_param("cause"),
    )
    return EmptyResult()


RESPONSE_METHODS = {"send_task_failure": _send_task_failure}


def install() -> None:
    for name, method in RESPONSE_METHODS.items():
        setattr(StepFunctionResponse, name, method)
