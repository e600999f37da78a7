"""A function's CloudWatch log (``/aws/lambda/<name>``), written as Lambda writes it: with the
function's execution role."""

from __future__ import annotations

import logging
import threading
import time

from moto.logs.exceptions import ResourceNotFoundException as LogsResourceNotFound
from moto.logs.models import logs_backends
from moto.utilities.utils import get_partition

from sandbox import iam
from sandbox.awslambda.models import FunctionSpec
from sandbox.awslambda.roles import execution_role

_log = logging.getLogger(__name__)
_lock = threading.Lock()


def _may_log(spec: FunctionSpec, stream: str) -> bool:
    """Lambda writes a function's logs with its execution role: without logs:PutLogEvents on
    the stream they are lost (docs/aws-behaviour.md#lambda-execution-role-logs)."""
    arn = (
        f"arn:{get_partition(spec.region)}:logs:{spec.region}:{spec.account_id}:log-group:"
        f"{spec.log_group}:log-stream:{stream}"
    )
    try:
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            iam.authorize(execution_role(spec), action, arn, region=spec.region)
    except iam.AccessDenied as denied:
        _log.debug("log of %s lost: %s", spec.function_name, denied.message)
        return False
    return True


def put_log(spec: FunctionSpec, stream: str, message: str) -> None:
    """One log event in the function's log group (created, as Lambda does, if missing)."""
    event = {"timestamp": int(time.time() * 1000), "message": message}
    if not _may_log(spec, stream):
        return
    with _lock:
        try:
            backend = logs_backends[spec.account_id][spec.region]
            try:
                backend.put_log_events(spec.log_group, stream, [event])
            except LogsResourceNotFound:
                backend.ensure_log_group(spec.log_group)
                backend.ensure_log_stream(spec.log_group, stream)
                backend.put_log_events(spec.log_group, stream, [event])
        except Exception:  # logging must never break an invocation
            _log.exception("could not write the log of %s", spec.function_name)
