"""Lambda's execution environments for moto: invoking a function runs its real zip.

moto 5.2.5 runs function code only in docker. Here every function version gets warm worker
processes that run the uploaded zip, extracted once per code sha256, with the function's
handler, environment, timeout and memory size:

- ``sys.path`` is the zip, then only what Lambda's Python runtime provides (boto3, botocore and
  their dependencies, symlinked from this interpreter's site-packages into one folder): a
  package the zip lacks fails with ``Runtime.ImportModuleError``, as in Lambda.
- boto3 in the function talks to the sandbox (``AWS_ENDPOINT_URL``) with credentials of its
  execution role (moto STS ``AssumeRole``, session name = function name, as Lambda does).
- stdout and stderr become the function's CloudWatch log (``/aws/lambda/<name>``, one stream
  per worker) with Lambda's START / END / REPORT lines.
- Errors are Lambda's: ``FunctionError: Unhandled`` and ``{"errorMessage", "errorType",
  "stackTrace"}``; a timeout kills the worker (``Sandbox.Timedout``, "Task timed out after
  N seconds"); a worker that dies is replaced (``Runtime.ExitError``).
- Asynchronous invocations run on a background thread with Lambda's retries (2, or the
  function's event invoke config), then go to the dead-letter queue and the on-failure
  destination; on success to the on-success destination.
- X-Ray: off (no daemon), unless ``lambda_settings.capture_traces`` (the sandbox's own daemon,
  ``sandbox.xray``) or ``xray_daemon_address`` is set: then a function with Active tracing
  runs sampled, as in Lambda, and its segments reach that daemon.

By role: ``hooks`` (moto's Lambda API and functions, hooked), ``invoke`` (synchronous),
``asynchronous`` (Lambda's queue, retries, destinations), ``messaging`` (SQS/SNS messages),
``pool`` (the warm workers), ``worker`` (one worker, seen from the sandbox),
``worker_process`` (the worker process itself, standard library only), ``function_code``
(the zip on disk, the runtime packages, the interpreter), ``roles``, ``logs``, ``tracing``,
``models``, ``exceptions``, ``settings`` (``lambda_settings``: delays AWS counts in minutes,
scaled down so tests stay fast), ``controls`` (``/moto-api/sandbox/lambda/workers``).
"""

from __future__ import annotations

import atexit

from sandbox import xray
from sandbox.awslambda import (
    controls,  # noqa: F401  (registers its HTTP route)
    function_code,
    hooks,
    pool,
)
from sandbox.awslambda.pool import workers
from sandbox.awslambda.settings import lambda_settings
from sandbox.core import background, endpoint

__all__ = ["install", "lambda_settings", "reset", "shutdown", "workers"]


def install() -> None:
    """Hook moto's Lambda so that invoking a function runs its zip (idempotent)."""
    hooks.install()
    atexit.unregister(shutdown)  # registered once, however often install() runs
    atexit.register(shutdown)  # no worker outlives the process


def reset() -> None:
    """Workers, background tasks, the in-process bridge server and the X-Ray daemon stopped
    (its segments forgotten); default settings."""
    with background.stopping_all():
        pool.close_all()  # wakes the tasks that wait on an invocation
    endpoint.stop_bridge()
    xray.stop()
    lambda_settings.reset()


def shutdown() -> None:
    """Everything stopped and the temporary files removed (at exit, or by LocalAws.stop)."""
    reset()
    function_code.remove_work_dir()
