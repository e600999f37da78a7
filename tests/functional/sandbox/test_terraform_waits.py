"""The reads the AWS provider (5.100.0) polls after a write already match on the first poll.

terraform/examples/local waits in aws_kms_key (GetKeyRotationStatus, GetKeyPolicy,
ListResourceTags: 5 matching reads 1 s apart each), aws_sqs_queue and aws_sqs_queue_policy
(GetQueueAttributes: 6 matching reads 5 s apart, on create and on the policy's delete). Those
counts are the provider's own and hold against AWS too; these tests pin that the sandbox never
makes them longer (a read that differs from what was written restarts the count, up to a
2-minute timeout). The requests are the ones the provider sends (TF_LOG_PROVIDER=DEBUG).
"""

from __future__ import annotations

import json

ACCOUNT_ID = "123456789012"
KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "EventBridgeWritesToDeadLetterQueue",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/r"}},
        },
    ],
}
QUEUE_NAME = "approval-gate-approval-events-dlq"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:{QUEUE_NAME}"
QUEUE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "EventBridgeSendsUndeliveredResults",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE_ARN,
            "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/r"}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sqs:*",
            "Resource": QUEUE_ARN,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ],
}


def test_a_new_keys_rotation_policy_and_tags_read_back_as_written(aws):
    kms = aws.client("kms")
    key_id = kms.create_key(
        Description="Approval gate",
        KeyUsage="ENCRYPT_DECRYPT",
        CustomerMasterKeySpec="SYMMETRIC_DEFAULT",
        Policy=json.dumps(KEY_POLICY),
        Tags=[{"TagKey": "ApprovalGate", "TagValue": "approval-gate"}],
    )["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id)

    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert json.loads(policy) == KEY_POLICY
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [
        {"TagKey": "ApprovalGate", "TagValue": "approval-gate"}
    ]
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["Enabled"]) == ("Enabled", True)


def test_a_new_queues_attributes_read_back_as_sent(aws):
    key_arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    sent = {
        "VisibilityTimeout": "30",
        "KmsMasterKeyId": key_arn,
        "DelaySeconds": "0",
        "MaximumMessageSize": "262144",
        "KmsDataKeyReusePeriodSeconds": "300",
        "MessageRetentionPeriod": "1209600",
        "ReceiveMessageWaitTimeSeconds": "0",
        "Policy": json.dumps(QUEUE_POLICY),
    }
    url = aws.sqs.create_queue(
        QueueName=QUEUE_NAME, Attributes=sent, tags={"ApprovalGate": "approval-gate"}
    )["QueueUrl"]

    got = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(got.pop("Policy")) == QUEUE_POLICY
    assert {name: got.get(name) for name in sent if name != "Policy"} == {
        name: value for name, value in sent.items() if name != "Policy"
    }
    assert aws.sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"ApprovalGate": "approval-gate"}


def test_a_queue_policy_set_and_removed_reads_back_at_once(aws):
    url = aws.sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]

    aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(QUEUE_POLICY)})
    got = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(got["Policy"]) == QUEUE_POLICY

    # aws_sqs_queue_policy's delete: Policy "" then polls until it reads "" or absent.
    aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    got = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert got.get("Policy", "") == ""
