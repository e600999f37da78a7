################################################################################
# The functions' own permissions (policy_json of lambda_service, which adds logs,
# X-Ray, the environment key and the dead-letter target)
################################################################################

# Who may assume the automation's and the state machine's roles: the service, for this
# account and for this gate's automations / state machine only (confused-deputy protection,
# as the SSM Automation and Step Functions documentation recommend).
data "aws_iam_policy_document" "service_assume" {
  for_each = {
    automation = {
      sid        = "SsmAutomationAssumes"
      service    = "ssm.amazonaws.com"
      source_arn = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"
    }
    state_machine = {
      sid        = "StepFunctionsAssumes"
      service    = "states.amazonaws.com"
      source_arn = "${local.state_machine_arn}*"
    }
  }

  statement {
    sid     = each.value.sid
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [each.value.service]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [each.value.source_arn]
    }
  }
}

# What starting one stage of an approval takes (approval_core.launcher.AutomationLauncher):
# start_approval starts the first stage, receive_result and the sweep (delivering through the
# same code) start the next one when a stage before the last approves.
data "aws_iam_policy_document" "start_automation" {
  statement {
    # StartAutomationExecution requires the automation-execution resource type as well as
    # the document (docs/aws-behaviour.md#iam-service-authorization): the execution's id is
    # not known before the call, hence automation-execution/*. The definition is an optional
    # resource type of the action, named so that a request context carrying it is allowed.
    sid     = "StartApprovalAutomation"
    effect  = "Allow"
    actions = ["ssm:StartAutomationExecution"]
    resources = [
      "arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*",
      "arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-definition/${aws_ssm_document.approval.name}:*",
      "arn:${local.partition}:ssm:${local.region}:${local.account_id}:document/${aws_ssm_document.approval.name}",
    ]
  }

  statement {
    # The automation is tagged with its approval id at start; whether that needs the
    # tagging action is not documented for automations (docs/aws-behaviour.md#ssm-automation-tags).
    sid       = "TagOwnAutomation"
    effect    = "Allow"
    actions   = ["ssm:AddTagsToResource"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }

  statement {
    # AWS requires "*": DescribeAutomationExecutions has no resource type (it lists). A
    # retried start that SSM refuses as a reused ClientToken finds its automation again by
    # its tag (docs/aws-behaviour.md#undocumented-client-token-reuse); the sweep also lists
    # the automations that finished.
    sid       = "ListApprovalAutomations"
    effect    = "Allow"
    actions   = ["ssm:DescribeAutomationExecutions"]
    resources = ["*"]
  }

  statement {
    # An automation whose workflow ended while it was being started (approval_core); the
    # sweep also cancels one SSM kept queued past max_queued_seconds before its workflow is
    # told Approval.NotStarted.
    sid       = "CancelApprovalAutomations"
    effect    = "Allow"
    actions   = ["ssm:StopAutomationExecution"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }

  statement {
    sid       = "PassAutomationRoleToSsm"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.automation.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ssm.amazonaws.com"]
    }
  }
}

# start_approval: starts the automation for a task token.
data "aws_iam_policy_document" "start_approval" {
  source_policy_documents = [data.aws_iam_policy_document.start_automation.json]

  statement {
    sid    = "WriteApprovalRecords"
    effect = "Allow"
    # The record (PutItem, then UpdateItem with the automation) and the pacing's slots of
    # SSM's rate (UpdateItem). No DeleteItem: start_approval keeps no idempotency records.
    actions = [
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.approvals.arn]
  }

  statement {
    # The automation a retried start finds by its tag is confirmed by its parameters
    # (receive_result and the sweep read automations anyway: ReadAutomationExecutions).
    sid       = "FindOwnAutomation"
    effect    = "Allow"
    actions   = ["ssm:GetAutomationExecution"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }
}

# What delivering a decision takes: receive_result's, and the sweep's, which delivers through
# the same code, including asking the next stage of an approval.
data "aws_iam_policy_document" "deliver_decisions" {
  source_policy_documents = [data.aws_iam_policy_document.start_automation.json]

  statement {
    sid    = "ReadAutomationExecutions"
    effect = "Allow"
    actions = [
      "ssm:GetAutomationExecution",
      "ssm:DescribeAutomationStepExecutions",
    ]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }

  statement {
    # A stage that approved is checked against the record (consistent read) before the next
    # stage is asked; the sweep reads every listed record again: the index may lag.
    sid       = "ReadApprovalRecords"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.approvals.arn]
  }

  statement {
    # Conditional UpdateItems only: the decision's claim (with its delivery lease), the
    # callback's result, a next stage, and the pacing's slots of SSM's rates. No PutItem or
    # DeleteItem: the deliveries keep no store of their own (no idempotency records).
    sid       = "UpdateApprovalRecords"
    effect    = "Allow"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.approvals.arn]
  }

  statement {
    # AWS requires "*": SendTaskSuccess and SendTaskFailure have no resource type in the
    # Service Authorization Reference (the task token is the only handle).
    sid       = "CallBackWaitingWorkflows"
    effect    = "Allow"
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    resources = ["*"]
  }
}

# receive_result: reads the decision and calls the waiting workflow back, or asks the next stage.
data "aws_iam_policy_document" "receive_result" {
  source_policy_documents = [data.aws_iam_policy_document.deliver_decisions.json]

  dynamic "statement" {
    # Writing to the encrypted dead-letter queue (sqs:SendMessage is granted by lambda_service).
    for_each = local.kms_key_given ? [local.kms_key_arn] : []
    content {
      sid       = "UseDeadLetterQueueKey"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

# sweep_approvals: finds the decisions whose event was lost and delivers them.
data "aws_iam_policy_document" "sweep_approvals" {
  # The delivery is receive_result's own (asking a next stage included); the sweep has no
  # dead-letter queue. Reminders go where SSM sent the request: the approvers' topic.
  source_policy_documents = [
    data.aws_iam_policy_document.deliver_decisions.json,
    data.aws_iam_policy_document.notify_approvers.json,
  ]

  statement {
    sid       = "ListPendingApprovals"
    effect    = "Allow"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.approvals.arn}/index/pending"]
  }
}

# close_approvals: closes the approvals of workflows that ended, cancels their automations.
data "aws_iam_policy_document" "close_approvals" {
  statement {
    sid       = "FindApprovalsOfExecution"
    effect    = "Allow"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.approvals.arn}/index/by_execution"]
  }

  statement {
    sid       = "CloseApprovalRecords"
    effect    = "Allow"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.approvals.arn]
  }

  statement {
    sid       = "CancelApprovalAutomations"
    effect    = "Allow"
    actions   = ["ssm:StopAutomationExecution"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }

  dynamic "statement" {
    # Writing to the encrypted dead-letter queue (sqs:SendMessage is granted by lambda_service).
    for_each = local.kms_key_given ? [local.kms_key_arn] : []
    content {
      sid       = "UseDeadLetterQueueKey"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}
