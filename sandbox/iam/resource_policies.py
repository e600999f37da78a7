"""The resource-based policy of a resource, from moto's state: KMS key policies, SQS queue
and SNS topic policies, Lambda function policies (permissions), IAM role trust policies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from moto.utilities.utils import get_partition


def policy_of(arn: str) -> tuple[str | None, bool]:
    """(policy document or None, is a KMS key policy)."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None, False
    _, _, service, region, account, rest = parts
    try:
        if service == "kms" and rest.startswith("key/"):
            from moto.kms.models import kms_backends

            key = kms_backends[account][region].keys.get(rest[4:])
            return (key.policy if key else None), True
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            queue = sqs_backends[account][region].queues.get(rest)
            return (queue.policy if queue else None), False
        if service == "sns":
            from moto.sns.models import sns_backends

            topic = sns_backends[account][region].topics.get(arn)
            return (topic.policy if topic else None), False
        if service == "lambda" and rest.startswith("function:"):
            from moto.awslambda.utils import get_backend

            name, _, qualifier = rest[len("function:") :].partition(":")
            wire = get_backend(account, region).get_policy(name, qualifier or None)
            return json.loads(wire)["Policy"], False  # moto's GetPolicy answer
        if service == "iam" and rest.startswith("role/"):
            from moto.iam.models import iam_backends

            role = iam_backends[account][get_partition("us-east-1")].get_role_by_arn(arn)
            return role.assume_role_policy_document, False
    except Exception:  # no such resource, or no policy on it
        return None, False
    return None, False


def resolved_parameters(
    prefix: str, params: Mapping[str, Any], account_id: str, region: str
) -> Mapping[str, Any]:
    """Parameters with aliases resolved to what an ARN names (a KMS alias to its key)."""
    if prefix != "kms" or not isinstance(params.get("KeyId"), str):
        return params
    from moto.kms.models import kms_backends

    try:
        key_id = kms_backends[account_id][region].any_id_to_key_id(params["KeyId"])
    except Exception:
        return params
    return {**params, "KeyId": key_id}


def encryption_key_of(arn: str) -> str | None:
    """The KMS key ARN an SQS queue or SNS topic is encrypted with (None: not encrypted)."""
    _, _, service, region, account, rest = arn.split(":", 5)
    key_id: str | None = None
    try:
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            key_id = sqs_backends[account][region].queues[rest].kms_master_key_id
        elif service == "sns":
            from moto.sns.models import sns_backends

            key_id = sns_backends[account][region].topics[arn].kms_master_key_id
    except (KeyError, AttributeError):
        return None
    if not key_id:
        return None
    from moto.kms.models import kms_backends

    try:
        raw = kms_backends[account][region].any_id_to_key_id(key_id)
    except Exception:
        return None
    return f"arn:{arn.split(':')[1]}:kms:{region}:{account}:key/{raw}"
