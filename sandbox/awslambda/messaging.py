"""Messages to SQS queues and SNS topics that services send themselves: Lambda's dead-letter
queues and destinations, EventBridge's dead-letter queues."""

from __future__ import annotations

import logging
from typing import Any

from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from sandbox import iam

_log = logging.getLogger(__name__)


def send_message(
    account_id: str,
    target_arn: str,
    body: str,
    attributes: dict[str, str] | None = None,
    *,
    sender: Any = None,
    source_arn: str | None = None,
) -> None:
    """A message to an SQS queue or SNS topic ARN (dead-letter queues, destinations), sent
    as ``sender`` (an ``iam`` Caller: the function's role, or EventBridge for ``source_arn``);
    one IAM refuses is lost, as in AWS."""
    parts = target_arn.split(":")
    service, region, account = parts[2], parts[3], parts[4] or account_id
    if sender is not None:
        try:
            iam.authorize_send(sender, target_arn, region=region, source_arn=source_arn)
        except iam.AccessDenied as denied:
            _log.warning("message to %s lost: %s", target_arn, denied.message)
            return
    try:
        if service == "sqs":
            sqs_backends[account][region].send_message(
                queue_name=parts[5],
                message_body=body,
                message_attributes={
                    name: {
                        "DataType": "Number" if value.isdigit() else "String",
                        "StringValue": value,
                    }
                    for name, value in (attributes or {}).items()
                },
            )
        elif service == "sns":
            sns_backends[account][region].publish(
                message=body,
                arn=target_arn,
                message_attributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in (attributes or {}).items()
                },
            )
        else:
            _log.warning("the sandbox cannot send to %s", target_arn)
    except Exception:
        _log.exception("could not send to %s", target_arn)
