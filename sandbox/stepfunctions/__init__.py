"""Step Functions as AWS documents it, where moto's responses and ASL engine differ.

- ``responses``: SendTaskFailure keeps its ``cause``; ValidateStateMachineDefinition and
  ListStateMachineVersions (the Terraform provider calls them); a generated execution name;
  StopExecution that stops; a TIMED_OUT execution's ``stopDate``.
- ``lifecycle``: executions' status-change events, StopExecution of a waiting execution,
  closed task tokens refused with ``TaskTimedOut``.
- ``tasks``: the engine's service integrations (``lambda:invoke``, ``.waitForTaskToken``,
  ``sqs:...``) call the sandbox's endpoint, as the state machine's role.
"""

from sandbox.stepfunctions import lifecycle, responses, tasks


def install() -> None:
    """Hook moto's Step Functions (idempotent)."""
    responses.install()
    lifecycle.install()
    tasks.install()
