################################################################################
# State machine (Standard): request, wait for the decision, branch
################################################################################

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = local.state_machine_log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

resource "aws_iam_role" "state_machine" {
  name                 = substr("${var.name_prefix}-states-${local.region}", 0, 64)
  description          = "Role of the approval state machine ${local.state_machine_name}."
  assume_role_policy   = data.aws_iam_policy_document.service_assume["state_machine"].json
  permissions_boundary = var.role_permissions_boundary
  tags                 = local.tags
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "InvokeStartApprovalAlias"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.functions["start_approval"].alias_arn]
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
    comment                  = "Approval gate ${var.name_prefix}: asks the approvers through SSM Automation (${local.document_name}) and waits for their decision."
    partition                = local.partition
    start_approval_alias_arn = module.functions["start_approval"].alias_arn
    task_timeout_seconds     = local.task_timeout_seconds
    # A start refused by the pacing (approval_core.pacing) comes back before the starts
    # already waiting in their functions (up to lambda_timeout_seconds less 15 s) are done,
    # so SSM's rate is never left idle during a burst; 20 attempts carry a start through
    # about 10 minutes of a burst.
    throttle_retry_interval_seconds  = 5
    throttle_retry_max_attempts      = 20
    throttle_retry_max_delay_seconds = 60
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
      error_message = "task_timeout_margin_seconds (${var.task_timeout_margin_seconds}) must be at least sweep_interval_minutes x 60 + sweep_grace_seconds + lambda_timeout_seconds (${local.minimum_timeout_margin}): otherwise the workflow's own timeout can fire before an expiry whose event was lost is delivered by the sweep. Raise the margin or shorten the sweep interval."
    }
    precondition {
      # Holds for every value the variables' validations allow today (5 x 30 days + 1 day);
      # it guards a wider bound on either.
      condition     = local.task_timeout_seconds <= local.standard_execution_max_seconds
      error_message = "max_approval_stages x approval_timeout_seconds + task_timeout_margin_seconds (${local.task_timeout_seconds} s) must not pass ${local.standard_execution_max_seconds} s, the one year a Standard Step Functions execution may last (Step Functions quotas, \"Maximum execution time\"): lower max_approval_stages or approval_timeout_seconds."
    }
  }

  depends_on = [aws_iam_role_policy.state_machine]
}
