"""IAM in the local AWS: every request and every service's call authorised as AWS would.

- ``install()``: the check on every request moto receives (``sandbox.iam.requests``).
- ``iam_settings.enforce``: on in ``LocalAws`` (and so ``make sandbox``, ``make demo``, the
  integration tests), off in-process unless a test turns it on.
- ``admin``: the deployer's key (``admin.ACCESS_KEY``/``admin.SECRET_KEY``).
- ``authorize``, ``authorize_send``, ``assume_role_as_service``, ``service_caller``: for what
  AWS services do on a deployed part's behalf; they raise ``AccessDenied``.
- ``denials()``: every refusal so far (``GET /moto-api/sandbox/iam/denials``, ``controls``).
"""

from sandbox.iam import (
    admin,
    controls,  # noqa: F401  (registers its HTTP route)
)
from sandbox.iam.enforcement import AccessDenied, clear_denials, denials, iam_settings
from sandbox.iam.policies import Caller
from sandbox.iam.requests import install
from sandbox.iam.service_calls import (
    assume_role_as_service,
    authorize,
    authorize_send,
    role_session,
    service_caller,
    session_credentials,
)

__all__ = [
    "AccessDenied",
    "Caller",
    "admin",
    "assume_role_as_service",
    "authorize",
    "authorize_send",
    "clear_denials",
    "denials",
    "iam_settings",
    "install",
    "role_session",
    "service_caller",
    "session_credentials",
]
