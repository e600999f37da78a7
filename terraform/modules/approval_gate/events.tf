################################################################################
# EventBridge: three rules, each invoking one function's alias
#   approval_result: this document's approve step ended  -> receive_result
#   sweep:           every sweep_interval_minutes          -> sweep_approvals
#   workflow_ended:  a workflow that uses the gate ended   -> close_approvals
# and the dead-letter queue of what EventBridge could not deliver.
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
  name        = local.approval_result_rule_name
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

resource "aws_cloudwatch_event_target" "receive_result" {
  rule      = aws_cloudwatch_event_rule.approval_result.name
  target_id = "receive-result"
  arn       = module.functions["receive_result"].alias_arn

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
  function_name = module.functions["receive_result"].function_name
  qualifier     = module.functions["receive_result"].alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.approval_result.arn
}

# The approval's lifecycle: the sweep (decisions whose SSM event was lost) and closing
# the approvals of workflows that ended. Both run receive_result's code, released with it.
resource "aws_cloudwatch_event_rule" "sweep" {
  name                = local.sweep_rule_name
  description         = "Every ${var.sweep_interval_minutes} min: the sweep delivers decisions whose SSM event was lost."
  schedule_expression = var.sweep_interval_minutes == 1 ? "rate(1 minute)" : "rate(${var.sweep_interval_minutes} minutes)"
  state               = var.event_rule_state
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "sweep_approvals" {
  rule      = aws_cloudwatch_event_rule.sweep.name
  target_id = "sweep-approvals"
  arn       = module.functions["sweep_approvals"].alias_arn

  # A missed sweep is made good by the next one.
  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = max(60, local.sweep_interval_seconds)
  }
}

resource "aws_lambda_permission" "events_invoke_sweep_approvals" {
  statement_id  = "AllowApprovalSweepSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.functions["sweep_approvals"].function_name
  qualifier     = module.functions["sweep_approvals"].alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep.arn
}

resource "aws_cloudwatch_event_rule" "workflow_ended" {
  name        = local.workflow_ended_rule_name
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
  arn       = module.functions["close_approvals"].alias_arn

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
  function_name = module.functions["close_approvals"].function_name
  qualifier     = module.functions["close_approvals"].alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.workflow_ended.arn
}

################################################################################
# Dead-letter queue: approval results and ended workflows that could not be delivered
# (by EventBridge, or after the Lambda retries of receive_result and close_approvals)
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
      values   = [local.approval_result_rule_arn, local.workflow_ended_rule_arn]
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
