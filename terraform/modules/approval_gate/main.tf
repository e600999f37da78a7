# The approval gate, one file per concern:
#   main.tf            names, ARNs and settings every file shares
#   kms.tf             the customer managed key (optional) and its policy
#   notifications.tf   the SNS topic that asks the approvers, its e-mail subscriptions
#   automation.tf      the SSM Automation document, the role it runs as, the approvers' policy
#   records.tf         the DynamoDB table of approval records
#   functions.tf       the four functions (start_approval, receive_result, sweep_approvals,
#                      close_approvals), one ../lambda_service call
#   iam.tf             the functions' own permissions
#   events.tf          the EventBridge rules that invoke them, the dead-letter queue
#   state_machine.tf   the Standard state machine that waits for the decision
#   alarms.tf          the CloudWatch alarms
#   moved.tf           former addresses, so an existing deployment plans no replacement

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id # `.name` is deprecated in provider 6.x, `.region` unknown to 5.x
  account_id = data.aws_caller_identity.current.account_id

  document_name                = coalesce(var.document_name, "${var.name_prefix}-approval")
  topic_name                   = coalesce(var.notification_topic_name, "Automation-${var.name_prefix}")
  automation_role_name         = coalesce(var.automation_role_name, "${var.name_prefix}-automation-${local.region}")
  state_machine_name           = coalesce(var.state_machine_name, var.name_prefix)
  table_name                   = "${var.name_prefix}-approvals"
  queue_name                   = "${var.name_prefix}-approval-events-dlq"
  state_machine_log_group_name = "/aws/vendedlogs/states/${local.state_machine_name}"

  approval_result_rule_name = "${var.name_prefix}-approval-result"
  workflow_ended_rule_name  = "${var.name_prefix}-workflow-ended"
  sweep_rule_name           = "${var.name_prefix}-approval-sweep"

  # The AWS name of each function of functions.tf, by its one name. Free of resource
  # references (unlike local.functions): the key policy names the functions' log groups,
  # and module.functions has one instance per name.
  function_names = {
    start_approval  = "${var.name_prefix}-start-approval"
    receive_result  = "${var.name_prefix}-receive-result"
    sweep_approvals = "${var.name_prefix}-sweep-approvals"
    close_approvals = "${var.name_prefix}-close-approvals"
  }

  # Known before apply, so policies can name them without dependency cycles.
  approval_result_rule_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.approval_result_rule_name}"
  workflow_ended_rule_arn  = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.workflow_ended_rule_name}"
  queue_arn                = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"
  state_machine_arn        = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"

  kms_key_arn = var.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  # Known at plan time (unlike the created key's ARN); false only in the refused case
  # (create_kms_key = false without kms_key_arn), so the precondition on the topic speaks.
  kms_key_given = var.create_kms_key || var.kms_key_arn != null

  # The Task waits a little longer than the longest approval, so an expiry reaches the
  # workflow as Approval.Expired rather than States.Timeout: every stage may wait up to the
  # document's step timeout (a stage's own shorter timeout is the sweep's to enforce), and
  # each stage but the last may wait for a sweep to deliver its lost event (the margin
  # covers the last one's).
  sweep_interval_seconds   = var.sweep_interval_minutes * 60
  lost_event_seconds       = local.sweep_interval_seconds + var.sweep_grace_seconds + var.lambda_timeout_seconds
  longest_approval_seconds = var.max_approval_stages * var.approval_timeout_seconds + (var.max_approval_stages - 1) * local.lost_event_seconds
  task_timeout_seconds     = local.longest_approval_seconds + var.task_timeout_margin_seconds
  # A Standard execution lasts at most one year (docs/aws-behaviour.md#sfn-task-timeout;
  # https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum
  # execution time"): a Task timeout past it would never fire.
  standard_execution_max_seconds = 31536000
  # An expiry whose event is lost reaches the workflow with the next sweep: the margin
  # must cover one sweep interval, the grace and the delivery (the precondition on the
  # state machine).
  minimum_timeout_margin  = local.lost_event_seconds
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

