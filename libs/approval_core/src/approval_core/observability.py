"""The one place that sets up logging, tracing and metrics for a service.

Powertools reads the service name, metrics namespace and log level from the function's
environment (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL),
which Terraform sets. The Tracer patches boto3, so every AWS call is an X-Ray subsegment.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

DEFAULT_NAMESPACE = "ApprovalGate"


def create(service: str, version: str) -> tuple[Logger, Tracer, Metrics]:
    """The service's logger, tracer and metrics. A tuple, not a dataclass: on Python 3.12 a
    dataclass costs its cold start about half a millisecond to create (docs/benchmarks.md)."""
    logger = Logger(service=service)
    logger.append_keys(service_version=version)
    # Only botocore is patched: every AWS call is a subsegment, and no other library
    # (requests, httplib, sqlite3...) is imported just to be patched.
    tracer = Tracer(service=service, patch_modules=("botocore",))
    # No version dimension: alarms on these metrics must survive a release.
    metrics = Metrics(
        service=service,
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
    )
    return logger, tracer, metrics
