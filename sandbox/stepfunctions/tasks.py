"""Step Functions' service integrations (``lambda:invoke``, ``.waitForTaskToken``, ``sqs:...``)
reach the sandbox in server mode too.

moto's ASL engine (``moto/stepfunctions/parser``) calls other services through a boto3
client (``asl.utils.boto_client.boto_client_for``). In-process (``mock_aws``) moto intercepts
that client; in server mode it points it at ``http://localhost:$MOTO_PORT`` (5000 by
default), which is not the sandbox when it listens elsewhere (``LocalAws(port=0)``). The
replacement uses the sandbox's endpoint (``sandbox.core.endpoint``). A Lambda
function's error comes back as ``FunctionError`` with its ``errorType``, which moto's engine
turns into the state's error name, so Retry and Catch match on it (``Lambda.*`` for errors of
the Invoke call itself, such as ``Lambda.TooManyRequestsException``).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import boto3
import moto.stepfunctions.parser.models  # noqa: F401  (loads the engine install() patches)
from botocore.client import BaseClient
from botocore.config import Config
from moto.core.models import botocore_stubber
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.responses import get_backend

from sandbox import iam
from sandbox.core.endpoint import server_endpoint

_installed = False
_lock = threading.Lock()


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    # The state machine's role, as Step Functions assumes it (its trust policy must allow
    # states.amazonaws.com): what its integrations may do is what that role may do.
    keys = {"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk", "AWS_SESSION_TOKEN": None}
    role_arn = getattr(state_credentials, "role_arn", None)
    if iam.iam_settings.enforce and role_arn:
        keys = iam.session_credentials(
            role_arn,
            "states.amazonaws.com",
            region=region,
            session_name="states",
            source_arn=_state_machine_of(role_arn, region),
        ) or {
            "AWS_ACCESS_KEY_ID": "ASIAUNASSUMABLEROLE0",
            "AWS_SECRET_ACCESS_KEY": "unassumable",
            "AWS_SESSION_TOKEN": "unassumable",
        }
    kwargs: dict[str, Any] = {}
    if not botocore_stubber.enabled:
        kwargs["endpoint_url"] = server_endpoint() or f"http://localhost:{moto_server_port()}"
    return boto3.client(
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        region_name=region,
        service_name=service,
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys["AWS_SESSION_TOKEN"],
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        ),
        **kwargs,
    )


def _state_machine_of(role_arn: str, region: str) -> str | None:
    """The state machine that runs as ``role_arn`` (Step Functions assumes the role with
    aws:SourceArn = the state machine); None when several or none do."""
    account_id = role_arn.split(":")[4]
    machines = [
        machine.arn
        for machine in get_backend(account_id, region).state_machines
        if machine.roleArn == role_arn
    ]
    return machines[0] if len(machines) == 1 else None


def install() -> None:
    """Replace ``boto_client_for`` in every module of moto's ASL engine (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        original = boto_client.boto_client_for
        for name, module in list(sys.modules.items()):
            if name.startswith("moto.stepfunctions.parser") and (
                getattr(module, "boto_client_for", None) is original
            ):
                module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
        _installed = True
