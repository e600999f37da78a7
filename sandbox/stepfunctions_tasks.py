"""Step Functions' service integrations (``lambda:invoke``, ``.waitForTaskToken``, ``sqs:...``)
reach the sandbox in server mode too.

moto's ASL engine (``moto/stepfunctions/parser``) calls other services through a boto3
client (``asl.utils.boto_client.boto_client_for``). In-process (``mock_aws``) moto intercepts
that client; in server mode it points it at ``http://localhost:$MOTO_PORT`` (5000 by
default), which is not the sandbox when it listens elsewhere (``LocalAws(port=0)``). The
replacement uses the sandbox's endpoint (``lambda_runtime.server_endpoint``). A Lambda
function's error comes back as ``FunctionError`` with its ``errorType``, which moto's engine
turns into the state's error name, so Retry and Catch match on it (``Lambda.*`` for errors of
the Invoke call itself, such as ``Lambda.TooManyRequestsException``).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

_installed = False
_lock = threading.Lock()


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
        TimeoutSeconds,
    )

    from sandbox import lambda_runtime

    kwargs: dict[str, Any] = {}
    if not botocore_stubber.enabled:
        kwargs["endpoint_url"] = (
            lambda_runtime.server_endpoint() or f"http://localhost:{moto_server_port()}"
        )
    return boto3.client(
        aws_access_key_id="ak",
        region_name=region,
        service_name=service,
        aws_secret_access_key="sk",
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        ),
        **kwargs,
    )


def install() -> None:
    """Replace ``boto_client_for`` in every module of moto's ASL engine (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        import moto.stepfunctions.parser.models  # noqa: F401  (loads the engine)
        from moto.stepfunctions.parser.asl.utils import boto_client

        original = boto_client.boto_client_for
        for name, module in list(sys.modules.items()):
            if name.startswith("moto.stepfunctions.parser") and (
                getattr(module, "boto_client_for", None) is original
            ):
                module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
        _installed = True
