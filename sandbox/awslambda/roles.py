"""A function's execution role: what Lambda acts as for the function's own calls (the
credentials in its environment), its logs, its dead-letter queue and its destinations."""

from __future__ import annotations

import logging
from typing import Any

from sandbox import iam
from sandbox.awslambda.models import FunctionSpec

_log = logging.getLogger(__name__)
# Keys no one knows: every call made with them is refused.
UNASSUMABLE = {
    "AWS_ACCESS_KEY_ID": "ASIAUNASSUMABLEROLE0",
    "AWS_SECRET_ACCESS_KEY": "unassumable",
    "AWS_SESSION_TOKEN": "unassumable",
}


def execution_role(fn: Any) -> iam.Caller:
    """The execution role session of a function (moto's, or its FunctionSpec)."""
    return iam.role_session(fn.role, fn.function_name[:64])


def role_credentials(spec: FunctionSpec) -> dict[str, str]:
    """Credentials of the function's execution role, as Lambda assumes it (its trust policy
    must allow lambda.amazonaws.com); keys no one knows when it cannot be assumed, so every
    call of the function is refused, as in AWS."""
    try:
        credentials = iam.session_credentials(
            spec.role, "lambda.amazonaws.com", region=spec.region, session_name=spec.function_name
        )
    except Exception:  # a role moto does not know
        _log.warning("the execution role %s of %s cannot be assumed", spec.role, spec.function_name)
        credentials = None
    return credentials or dict(UNASSUMABLE)
