"""SSM Automation for moto: the execution API and ``aws:approve``.

moto 5.2.5 has SSM documents but no automation executions. ``install()`` adds the operations
(Start/Get/DescribeAutomationExecutions, DescribeAutomationStepExecutions,
SendAutomationSignal, StopAutomationExecution) to moto's SSM responses; the state lives on
moto's SSM backends, so moto's reset discards it too. By role:

- ``responses``: the API's methods and views (botocore's shapes), filters and pages;
- ``automation``: the operations, and ``expire_due()`` (timeouts on the sandbox clock);
- ``engine``: steps, statuses, the queue past the concurrency quota, the read lag;
- ``models``: executions, steps, decisions; ``document``: documents, parameters, ``{{ }}``;
- ``approve``: the ``aws:approve`` action (input checks, the SNS request, outputs);
- ``identity``: the caller of a request, and who matches an approver entry;
- ``events``: the status-change events; ``exceptions``: SSM's error shapes;
- ``settings``: SSM's undocumented behaviours (variants) and quotas (limits);
- ``controls``: ``/moto-api/sandbox/expire``.
"""

from sandbox.ssm import controls  # noqa: F401  (registers its HTTP routes)
from sandbox.ssm.automation import expire_due
from sandbox.ssm.models import reset
from sandbox.ssm.responses import install

__all__ = ["expire_due", "install", "reset"]
