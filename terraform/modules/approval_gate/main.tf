data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id # `.name` is deprecated in provider 6.x, `.region` unknown to 5.x
  account_id = data.aws_caller_identity.current.account_id

  document_name        = coalesce(var.document_name, "${var.name_prefix}-approval")
  topic_name           = coalesce(var.notification_topic_name, "Automation-${var.name_prefix}")
  automation_role_name = coalesce(var.automation_role_name, "${var.name_prefix}-automation-${local.region}")
  state_machine_name   = coalesce(var.state_machine_name, var.name_prefix)
  table_name           = "${var.name_prefix}-approvals"
  queue_name           = "${var.name_prefix}-approval-events-dlq"
  rule_name            = "${var.name_prefix}-approval-result"
  workflow_ended_rule  = "${var.name_prefix}-workflow-ended"
  sweep_rule_name      = "${var.name_prefix}-approval-sweep"

  start_approval_function_name = "${var.name_prefix}-start-approval"
  receive_result_function_name = "${var.name_prefix}-receive-result"
  sweep_function_name          = "${var.name_prefix}-sweep-approvals"
  close_function_name          = "${var.name_prefix}-close-approvals"
  state_machine_log_group_name = "/aws/vendedlogs/states/${local.state_machine_name}"

  # Known before apply, so policies can name them without dependency cycles.
  rule_arn          = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.rule_name}"
  workflow_rule_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.workflow_ended_rule}"
  queue_arn         = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"

  kms_key_arn = var.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  # Known at plan time (unlike the created key's ARN); false only in the refused case
  # (create_kms_key = false without kms_key_arn), so the precondition on the topic speaks.
  kms_key_given = var.create_kms_key || var.kms_key_arn != null

  # The Task waits a little longer than the approval itself, so an expiry reaches the
  # workflow as Approval.Expired rather than States.Timeout.
  task_timeout_seconds = var.approval_timeout_seconds + var.task_timeout_margin_seconds
  # An expiry whose event is lost reaches the workflow with the next sweep: the margin
  # must cover one sweep interval and the delivery (the precondition on the state machine).
  sweep_interval_seconds  = var.sweep_interval_minutes * 60
  minimum_timeout_margin  = local.sweep_interval_seconds + var.lambda_timeout_seconds
  lambda_log_group_prefix = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda"

  tags = merge(var.tags, { ApprovalGate = var.name_prefix })

  # Like the original stack's StepFunctionsInputExample, in the gate's request format.
  input_example = jsonencode({
    confirmation_url       = "https://example.com/releases/2024-06-01/"
    confirmation_file      = "release-notes.html"
    approvers              = var.approvers
    min_required_approvals = var.min_required_approvals
    description            = "Approval requested by ${local.state_machine_name}"
  })
}

################################################################################
# KMS key: topic, dead-letter queue, table, log groups, function environments
################################################################################

data "aws_iam_policy_document" "kms" {
  count = var.create_kms_key ? 1 : 0

  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only; the account root statement delegates to IAM as AWS recommends.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only; the account root statement delegates to IAM as AWS recommends.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchLogsEncryptsTheGateLogGroups"
    effect = "Allow"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "${local.lambda_log_group_prefix}/${local.start_approval_function_name}",
        "${local.lambda_log_group_prefix}/${local.receive_result_function_name}",
        "${local.lambda_log_group_prefix}/${local.sweep_function_name}",
        "${local.lambda_log_group_prefix}/${local.close_function_name}",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.state_machine_log_group_name}",
      ]
    }
  }

  statement {
    # EventBridge writes undeliverable result events to the encrypted dead-letter queue.
    sid       = "EventBridgeWritesToDeadLetterQueue"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.rule_arn, local.workflow_rule_arn]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_kms_key ? 1 : 0

  description             = "Approval gate ${var.name_prefix}: topic, queue, table, logs and function environments."
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  count = var.create_kms_key ? 1 : 0

  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# Notification topic (its name must start with "Automation") and subscriptions
################################################################################

resource "aws_sns_topic" "notification" {
  name              = local.topic_name
  display_name      = "Approval requests (${var.name_prefix})"
  kms_master_key_id = local.kms_key_arn
  tags              = local.tags

  lifecycle {
    precondition {
      condition     = local.kms_key_given
      error_message = "Set kms_key_arn when create_kms_key is false: every resource of the gate is encrypted with a customer managed key."
    }
  }
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.notification_emails)

  topic_arn = aws_sns_topic.notification.arn
  protocol  = "email"
  endpoint  = each.value
}

# A notification SNS could not deliver (a bounced address, a subscriber endpoint that
# fails): an approver may never hear of the request (docs/aws-behaviour.md#sns-delivery-failure-metrics).
resource "aws_cloudwatch_metric_alarm" "failed_notifications" {
  alarm_name          = "${var.name_prefix}-failed-approval-notifications"
  alarm_description   = "SNS could not deliver approval requests from ${local.topic_name} to a subscriber: an approver may not know an approval waits. Check the topic's subscriptions (confirmed, reachable) and its delivery status logs."
  namespace           = "AWS/SNS"
  metric_name         = "NumberOfNotificationsFailed"
  dimensions          = { TopicName = aws_sns_topic.notification.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

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

data "aws_iam_policy_document" "automation_assume" {
  statement {
    sid     = "SsmAutomationAssumes"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ssm.amazonaws.com"]
    }

    # Confused-deputy protection, as the Automation documentation recommends.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
    }
  }
}

resource "aws_iam_role" "automation" {
  name                 = local.automation_role_name
  description          = "Role the approval automation ${local.document_name} runs as (lets it wait longer than 12 hours and notify)."
  assume_role_policy   = data.aws_iam_policy_document.automation_assume.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = local.tags
}

data "aws_iam_policy_document" "automation" {
  statement {
    sid       = "NotifyApprovers"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notification.arn]
  }

  dynamic "statement" {
    for_each = local.kms_key_given ? [local.kms_key_arn] : []
    content {
      sid       = "UseTopicKey"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
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
}

################################################################################
# Approval records table
################################################################################

resource "aws_dynamodb_table" "approvals" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "execution_arn"
    type = "S"
  }

  attribute {
    name = "awaiting"
    type = "S"
  }

  attribute {
    name = "requested_epoch"
    type = "N"
  }

  # Sparse: only approval records carry execution_arn. Closing a workflow's approvals
  # finds them here.
  global_secondary_index {
    name            = "by_execution"
    hash_key        = "execution_arn"
    projection_type = "ALL"
  }

  # Sparse: only records waiting for a decision or its callback carry `awaiting`. The
  # sweep lists them here, oldest first; the projection leaves the task token out.
  global_secondary_index {
    name               = "pending"
    hash_key           = "awaiting"
    range_key          = "requested_epoch"
    projection_type    = "INCLUDE"
    non_key_attributes = ["approval_id", "automation_execution_id"]
  }

  # Shared with the Powertools idempotency records.
  ttl {
    attribute_name = "expiration"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  tags = local.tags
}

################################################################################
# Dead-letter queue for result events that could not be delivered
################################################################################

# The policy is set with the queue, not by a separate aws_sqs_queue_policy: the provider
# waits for queue attributes to settle after each write (several reads, 5 s apart), so one
# write instead of two saves that wait on apply and on destroy. Its ARN is built from the
# name, as the queue's own ARN is not known before the queue exists.
resource "aws_sqs_queue" "dead_letter" {
  name                              = local.queue_name
  message_retention_seconds         = var.dead_letter_message_retention_seconds
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  policy                            = data.aws_iam_policy_document.dead_letter.json
  tags                              = local.tags
}

data "aws_iam_policy_document" "dead_letter" {
  statement {
    sid       = "EventBridgeSendsUndeliveredResults"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.rule_arn, local.workflow_rule_arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.queue_arn]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

################################################################################
# start_approval: starts the automation for a task token
################################################################################

data "aws_iam_policy_document" "start_approval" {
  statement {
    sid    = "WriteApprovalRecords"
    effect = "Allow"
    actions = [
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ]
    resources = [aws_dynamodb_table.approvals.arn]
  }

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
    # A retried start that SSM refuses as a reused ClientToken finds its automation again
    # by its tag (docs/aws-behaviour.md#undocumented-client-token-reuse).
    sid       = "FindOwnAutomation"
    effect    = "Allow"
    actions   = ["ssm:GetAutomationExecution"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }

  statement {
    # AWS requires "*": DescribeAutomationExecutions has no resource type (it lists).
    sid       = "ListAutomationsByTag"
    effect    = "Allow"
    actions   = ["ssm:DescribeAutomationExecutions"]
    resources = ["*"]
  }

  statement {
    # When the workflow ended while the automation was being started (approval_core).
    sid       = "CancelOwnAutomation"
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

module "start_approval" {
  source = "../lambda_service"

  manifest_path = var.manifest_path
  service_name  = "start_approval"
  function_name = local.start_approval_function_name
  description   = "Starts the SSM Automation approval ${local.document_name} for a Step Functions task token."
  alias_name    = var.lambda_alias_name

  environment_variables = {
    APPROVALS_TABLE_NAME           = aws_dynamodb_table.approvals.name
    APPROVAL_DOCUMENT_NAME         = aws_ssm_document.approval.name
    APPROVAL_DOCUMENT_VERSION      = "$DEFAULT"
    NOTIFICATION_TOPIC_ARN         = aws_sns_topic.notification.arn
    AUTOMATION_ASSUME_ROLE_ARN     = aws_iam_role.automation.arn
    DEFAULT_APPROVERS              = join(",", var.approvers)
    DEFAULT_MIN_REQUIRED_APPROVALS = tostring(var.min_required_approvals)
    APPROVAL_TIMEOUT_SECONDS       = tostring(var.approval_timeout_seconds)
    RECORD_RETENTION_DAYS          = tostring(var.record_retention_days)
  }
  metrics_namespace = var.metrics_namespace
  log_level         = var.log_level
  policy_json       = data.aws_iam_policy_document.start_approval.json

  memory_size                    = var.lambda_memory_size
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.start_approval_reserved_concurrency
  environment_kms_key_arn        = local.kms_key_arn
  log_kms_key_arn                = local.kms_key_arn
  log_retention_in_days          = var.log_retention_in_days
  role_permissions_boundary      = var.role_permissions_boundary

  tags = local.tags
}

################################################################################
# receive_result: reads the decision and calls the waiting workflow back
################################################################################

# What delivering a decision takes: receive_result's, and the sweep's, which delivers through
# the same code.
data "aws_iam_policy_document" "deliver_decisions" {
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
    # UpdateItem for the approval records; PutItem/DeleteItem/UpdateItem for the Powertools
    # idempotency records that share the table (a conflicting PutItem returns the existing
    # record, so no GetItem).
    sid    = "UpdateApprovalRecords"
    effect = "Allow"
    actions = [
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ]
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

locals {
  # receive_result's code runs three functions (delivery, sweep, closing): one configuration.
  receive_result_environment = {
    APPROVALS_TABLE_NAME   = aws_dynamodb_table.approvals.name
    APPROVAL_DOCUMENT_NAME = aws_ssm_document.approval.name
  }
  # The sweep also cancels approvals queued too long by SSM (0: never).
  sweep_environment = merge(local.receive_result_environment, {
    MAX_QUEUED_SECONDS = tostring(var.max_queued_seconds)
  })
}

module "receive_result" {
  source = "../lambda_service"

  manifest_path = var.manifest_path
  service_name  = "receive_result"
  function_name = local.receive_result_function_name
  description   = "Reads the decision of ${local.document_name} and sends it back to the waiting Step Functions task."
  alias_name    = var.lambda_alias_name

  environment_variables = local.receive_result_environment
  metrics_namespace     = var.metrics_namespace
  log_level             = var.log_level
  policy_json           = data.aws_iam_policy_document.receive_result.json

  memory_size                    = var.lambda_memory_size
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.receive_result_reserved_concurrency
  # Asynchronous invocations (from EventBridge) that fail all Lambda retries.
  dead_letter_target_arn    = aws_sqs_queue.dead_letter.arn
  environment_kms_key_arn   = local.kms_key_arn
  log_kms_key_arn           = local.kms_key_arn
  log_retention_in_days     = var.log_retention_in_days
  role_permissions_boundary = var.role_permissions_boundary

  tags = local.tags
}

################################################################################
# EventBridge rule: terminal statuses of this document's approve step
################################################################################

locals {
  # Every status of an automation step that is not final (the botocore model's
  # AutomationExecutionStatus values that can still change; one file, also read by
  # tests/functional/terraform). The rule takes any OTHER status with `anything-but`
  # (docs/aws-behaviour.md#eventbridge-content-filtering), so a terminal status SSM does
  # not document for aws:approve (Rejected, Approved, CompletedWithSuccess,
  # CompletedWithFailure, ...) still reaches receive_result.
  non_terminal_step_statuses = jsondecode(file("${path.module}/templates/non_terminal_step_statuses.json"))
}

resource "aws_cloudwatch_event_rule" "approval_result" {
  name        = local.rule_name
  description = "Terminal status of the aws:approve step of ${aws_ssm_document.approval.name}: delivers the decision to receive_result."
  # `state` (provider >= 5.27 and 6.x) replaces the deprecated `is_enabled`.
  state = var.event_rule_state

  event_pattern = jsonencode({
    source        = ["aws.ssm"]
    "detail-type" = ["EC2 Automation Step Status-change Notification"]
    detail = {
      Definition = [aws_ssm_document.approval.name]
      Action     = ["aws:approve"]
      Status     = [{ "anything-but" = local.non_terminal_step_statuses }]
    }
  })

  tags = local.tags
}

# Anything in the dead-letter queue is a decision that did not reach its workflow: alarm
# on the first one. After the fix, `make redrive` replays them (README, Operating it).
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name_prefix}-undelivered-approval-results"
  alarm_description   = "Approval results in ${local.queue_name} did not reach their workflow. Read the queue, fix the cause, then replay them with `make redrive`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "receive_result" {
  rule      = aws_cloudwatch_event_rule.approval_result.name
  target_id = "receive-result"
  arn       = module.receive_result.alias_arn

  retry_policy {
    maximum_retry_attempts       = var.event_retry_maximum_attempts
    maximum_event_age_in_seconds = var.event_maximum_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_permission" "events_invoke_receive_result" {
  statement_id  = "AllowApprovalResultRule"
  action        = "lambda:InvokeFunction"
  function_name = module.receive_result.function_name
  qualifier     = module.receive_result.alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.approval_result.arn
}

################################################################################
# Lifecycle: the sweep (decisions whose SSM event was lost) and closing the approvals
# of workflows that ended. Both run receive_result's code, released with it.
################################################################################

data "aws_iam_policy_document" "sweep_approvals" {
  # The delivery is receive_result's own; the sweep has no dead-letter queue.
  source_policy_documents = [data.aws_iam_policy_document.deliver_decisions.json]

  statement {
    # Every listed record is read again from the table: the index may lag.
    sid       = "ReadApprovalRecords"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.approvals.arn]
  }

  statement {
    sid       = "ListPendingApprovals"
    effect    = "Allow"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.approvals.arn}/index/pending"]
  }

  statement {
    # AWS requires "*": DescribeAutomationExecutions has no resource type (it lists).
    sid       = "FindFinishedAutomations"
    effect    = "Allow"
    actions   = ["ssm:DescribeAutomationExecutions"]
    resources = ["*"]
  }
}

module "sweep_approvals" {
  source = "../lambda_service"

  manifest_path = var.manifest_path
  service_name  = "receive_result"
  handler       = "receive_result.handler.sweep_handler"
  function_name = local.sweep_function_name
  description   = "Every ${var.sweep_interval_minutes} min: delivers the decisions of ${local.document_name} whose event was lost."
  alias_name    = var.lambda_alias_name

  environment_variables = local.sweep_environment
  metrics_namespace     = var.metrics_namespace
  log_level             = var.log_level
  policy_json           = data.aws_iam_policy_document.sweep_approvals.json

  memory_size = var.lambda_memory_size
  timeout     = var.lambda_timeout_seconds
  # null by default: a reservation needs 100 unreserved executions left in the account
  # (docs/aws-behaviour.md#lambda-unreserved-concurrency-minimum); overlapping sweeps are
  # safe (conditional record writes), 1 keeps them apart where the account allows it.
  reserved_concurrent_executions = var.sweep_reserved_concurrency
  environment_kms_key_arn        = local.kms_key_arn
  log_kms_key_arn                = local.kms_key_arn
  log_retention_in_days          = var.log_retention_in_days
  role_permissions_boundary      = var.role_permissions_boundary

  tags = local.tags
}

resource "aws_cloudwatch_event_rule" "sweep" {
  name                = local.sweep_rule_name
  description         = "Every ${var.sweep_interval_minutes} min: the sweep delivers decisions whose SSM event was lost."
  schedule_expression = var.sweep_interval_minutes == 1 ? "rate(1 minute)" : "rate(${var.sweep_interval_minutes} minutes)"
  state               = var.event_rule_state
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "sweep" {
  rule      = aws_cloudwatch_event_rule.sweep.name
  target_id = "sweep-approvals"
  arn       = module.sweep_approvals.alias_arn

  # A missed sweep is made good by the next one.
  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = max(60, local.sweep_interval_seconds)
  }
}

resource "aws_lambda_permission" "events_invoke_sweep" {
  statement_id  = "AllowApprovalSweepSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.sweep_approvals.function_name
  qualifier     = module.sweep_approvals.alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep.arn
}

# Approvals whose automation SSM keeps Pending (queued past the account's concurrent
# automation quota: no step runs, nobody is asked; docs/aws-behaviour.md#ssm-automation-concurrency-queue).
# The sweep counts them each run: metric ApprovalsQueued, with the one dimension Powertools
# adds, `service` (its POWERTOOLS_SERVICE_NAME: the sweep runs receive_result's code).
resource "aws_cloudwatch_metric_alarm" "approvals_queued" {
  alarm_name          = "${var.name_prefix}-approvals-queued"
  alarm_description   = "Approvals of ${local.document_name} wait in SSM's automation queue: the account runs as many automations as its quota allows, and nobody is asked until one ends. Stop automations that are no longer needed or raise the quota (Service Quotas: Systems Manager, concurrently executing automations). ${var.max_queued_seconds == 0 ? "Queued approvals are never cancelled (max_queued_seconds = 0)." : "After ${var.max_queued_seconds} s queued, the sweep cancels one and fails its workflow with Approval.NotStarted."}"
  namespace           = var.metrics_namespace
  metric_name         = "ApprovalsQueued"
  dimensions          = { service = "receive_result" }
  statistic           = "Maximum"
  period              = local.sweep_interval_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

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

module "close_approvals" {
  source = "../lambda_service"

  manifest_path = var.manifest_path
  service_name  = "receive_result"
  handler       = "receive_result.handler.workflow_ended_handler"
  function_name = local.close_function_name
  description   = "Closes the approvals of workflows that ended while they waited, and cancels their automations."
  alias_name    = var.lambda_alias_name

  environment_variables = local.receive_result_environment
  metrics_namespace     = var.metrics_namespace
  log_level             = var.log_level
  policy_json           = data.aws_iam_policy_document.close_approvals.json

  memory_size                    = var.lambda_memory_size
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.receive_result_reserved_concurrency
  dead_letter_target_arn         = aws_sqs_queue.dead_letter.arn
  environment_kms_key_arn        = local.kms_key_arn
  log_kms_key_arn                = local.kms_key_arn
  log_retention_in_days          = var.log_retention_in_days
  role_permissions_boundary      = var.role_permissions_boundary

  tags = local.tags
}

resource "aws_cloudwatch_event_rule" "workflow_ended" {
  name        = local.workflow_ended_rule
  description = "Executions of the workflows that use the gate ended: their waiting approvals are closed."
  state       = var.event_rule_state

  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      stateMachineArn = distinct(concat([local.state_machine_arn], var.client_state_machine_arns))
      status          = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "close_approvals" {
  rule      = aws_cloudwatch_event_rule.workflow_ended.name
  target_id = "close-approvals"
  arn       = module.close_approvals.alias_arn

  retry_policy {
    maximum_retry_attempts       = var.event_retry_maximum_attempts
    maximum_event_age_in_seconds = var.event_maximum_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_permission" "events_invoke_close_approvals" {
  statement_id  = "AllowWorkflowEndedRule"
  action        = "lambda:InvokeFunction"
  function_name = module.close_approvals.function_name
  qualifier     = module.close_approvals.alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.workflow_ended.arn
}

################################################################################
# State machine (Standard): request, wait for the decision, branch
################################################################################

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = local.state_machine_log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

data "aws_iam_policy_document" "state_machine_assume" {
  statement {
    sid     = "StepFunctionsAssumes"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.state_machine_arn}*"]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name                 = substr("${var.name_prefix}-states-${local.region}", 0, 64)
  description          = "Role of the approval state machine ${local.state_machine_name}."
  assume_role_policy   = data.aws_iam_policy_document.state_machine_assume.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = local.tags
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "InvokeStartApprovalAlias"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.start_approval.alias_arn]
  }

  statement {
    # AWS requires "*": the CloudWatch Logs vended-delivery actions have no resource type.
    sid    = "DeliverExecutionLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    # AWS requires "*": these X-Ray actions have no resource type.
    sid    = "WriteTraces"
    effect = "Allow"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "approval-workflow"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

locals {
  state_machine_definition = jsonencode(jsondecode(templatefile("${path.module}/templates/state_machine.asl.json.tftpl", {
    comment                          = "Approval gate ${var.name_prefix}: asks the approvers through SSM Automation (${local.document_name}) and waits for their decision."
    partition                        = local.partition
    start_approval_alias_arn         = module.start_approval.alias_arn
    task_timeout_seconds             = local.task_timeout_seconds
    throttle_retry_interval_seconds  = 5
    throttle_retry_max_attempts      = 8
    throttle_retry_max_delay_seconds = 300
  })))
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:Execution data is off by default (state_machine_log_execution_data): the Task's parameters carry the task token, which must not reach logs. Every event is still logged (level ALL).
  name       = local.state_machine_name
  type       = "STANDARD"
  role_arn   = aws_iam_role.state_machine.arn
  definition = local.state_machine_definition

  logging_configuration {
    level                  = var.state_machine_log_level
    include_execution_data = var.state_machine_log_execution_data
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
  }

  tracing_configuration {
    enabled = true
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.task_timeout_margin_seconds >= local.minimum_timeout_margin
      error_message = "task_timeout_margin_seconds (${var.task_timeout_margin_seconds}) must be at least sweep_interval_minutes x 60 + lambda_timeout_seconds (${local.minimum_timeout_margin}): otherwise the workflow's own timeout can fire before an expiry whose event was lost is delivered by the sweep. Raise the margin or shorten the sweep interval."
    }
  }

  depends_on = [aws_iam_role_policy.state_machine]
}
