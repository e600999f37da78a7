################################################################################
# SSM Automation document and the role it runs as
################################################################################

resource "aws_ssm_document" "approval" {
  name            = local.document_name
  document_type   = "Automation"
  document_format = "YAML"
  version_name    = var.document_version_name
  content = templatefile("${path.module}/templates/approval_document.yaml.tftpl", {
    timeout_seconds = var.approval_timeout_seconds
  })
  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.min_required_approvals <= length(var.approvers)
      error_message = "min_required_approvals (${var.min_required_approvals}) must not exceed the number of approvers (${length(var.approvers)})."
    }
  }
}

resource "aws_iam_role" "automation" {
  name                 = local.automation_role_name
  description          = "Role the approval automation ${local.document_name} runs as (lets it wait longer than 12 hours and notify)."
  assume_role_policy   = data.aws_iam_policy_document.service_assume["automation"].json
  permissions_boundary = var.role_permissions_boundary
  tags                 = local.tags
}

# Publishing to the approvers' topic: the automation (the request) and the sweep (reminders).
data "aws_iam_policy_document" "notify_approvers" {
  statement {
    sid       = "NotifyApprovers"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notification.arn]
  }

  dynamic "statement" {
    # The topic is encrypted: publishing to it encrypts with its key.
    for_each = local.kms_key_given ? [local.kms_key_arn] : []
    content {
      sid       = "UseTopicKey"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "automation" {
  source_policy_documents = [data.aws_iam_policy_document.notify_approvers.json]
}

resource "aws_iam_role_policy" "automation" {
  name   = "approval"
  role   = aws_iam_role.automation.id
  policy = data.aws_iam_policy_document.automation.json
}

# What an approver needs (output approver_policy_json): aws:approve names the approvers,
# but IAM must still allow them to signal the automation and to read what they decide on
# (docs/aws-behaviour.md#iam-approvers-need-permission). The module attaches it to nobody.
data "aws_iam_policy_document" "approver" {
  statement {
    sid       = "ApproveOrRejectApprovalAutomations"
    effect    = "Allow"
    actions   = ["ssm:SendAutomationSignal"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }

  statement {
    sid    = "ReadApprovalAutomations"
    effect = "Allow"
    actions = [
      "ssm:GetAutomationExecution",
      "ssm:DescribeAutomationStepExecutions",
    ]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }

  statement {
    # AWS requires "*": DescribeAutomationExecutions has no resource type (it lists).
    sid       = "ListAutomations"
    effect    = "Allow"
    actions   = ["ssm:DescribeAutomationExecutions"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadApprovalDocument"
    effect    = "Allow"
    actions   = ["ssm:GetDocument", "ssm:DescribeDocument"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:document/${aws_ssm_document.approval.name}"]
  }

  # The `approvals` command line (list, show, export) reads the records, never their task
  # token: only the attributes named here, and only by projection
  # (docs/aws-behaviour.md#dynamodb-fine-grained-access).
  statement {
    sid     = "ReadApprovalRecordsWithoutToken"
    effect  = "Allow"
    actions = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [
      aws_dynamodb_table.approvals.arn,
      "${aws_dynamodb_table.approvals.arn}/index/by_status",
      "${aws_dynamodb_table.approvals.arn}/index/by_execution",
    ]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:Attributes"
      values   = local.record_attributes_without_token
    }
    condition {
      test     = "StringEqualsIfExists"
      variable = "dynamodb:Select"
      values   = ["SPECIFIC_ATTRIBUTES"]
    }
  }

  statement {
    sid       = "FollowWorkflows"
    effect    = "Allow"
    actions   = ["states:DescribeExecution"]
    resources = ["arn:${local.partition}:states:${local.region}:${local.account_id}:execution:*"]
  }

  statement {
    # AWS requires "*": X-Ray's reads have no resource type.
    sid       = "ReadTraces"
    effect    = "Allow"
    actions   = ["xray:GetTraceSummaries", "xray:BatchGetTraces"]
    resources = ["*"]
  }
}

