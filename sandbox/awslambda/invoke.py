"""A synchronous invocation (``RequestResponse``): run the event on a worker of the invoked
version, within the function's reserved concurrency."""

from __future__ import annotations

import json
import uuid
from typing import Any

from moto.awslambda.utils import get_backend

from sandbox.awslambda.exceptions import InvalidRequestContentException, TooManyRequestsException
from sandbox.awslambda.models import FunctionSpec, Outcome
from sandbox.awslambda.pool import pool_for
from sandbox.awslambda.settings import lambda_settings


def _concurrency_limit(fn: Any) -> int | None:
    """The function's reserved concurrency (set on $LATEST), or None."""
    try:
        latest = get_backend(fn.account_id, fn.region).get_function(fn.function_name)
        reserved = latest.reserved_concurrency
    except Exception:
        reserved = getattr(fn, "reserved_concurrency", None)
    return None if reserved in (None, "") else int(reserved)


def invoke_sync(
    fn: Any,
    invoked_arn: str,
    payload: str,
    *,
    request_id: str | None = None,
    client_context: Any = None,
    throttle: bool = True,
) -> Outcome:
    """Run one invocation of ``fn`` (a moto LambdaFunction of the invoked version)."""
    spec = FunctionSpec.of(fn)
    spec.check_runnable()
    reserved = _concurrency_limit(fn)
    if reserved == 0:
        raise TooManyRequestsException(
            "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
    limit = reserved if reserved is not None else lambda_settings.max_workers_per_version
    pool = pool_for(spec)
    worker = pool.acquire(limit, throttle=throttle and reserved is not None)
    if worker is None:
        raise TooManyRequestsException(
            "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
    try:
        init_error = worker.start() if worker.process is None else None
        return worker.invoke(
            invoked_arn, payload, request_id or str(uuid.uuid4()), client_context, init_error
        )
    finally:
        pool.release(worker)


def check_payload(body: str | bytes | None) -> str:
    """The event as JSON text (``{}`` when empty); Lambda refuses what is not JSON."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        return "{}"
    try:
        json.loads(body)
    except ValueError as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: {exc}"
        ) from exc
    return body
