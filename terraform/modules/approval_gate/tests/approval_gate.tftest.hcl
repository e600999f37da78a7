# terraform test (Terraform >= 1.7): plans and applies the gate against a mock AWS provider,
# so it needs no account and no network. Run from the module folder: `terraform test`.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      id   = "eu-west-1"
      name = "eu-west-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:gate-approval-events-dlq"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:eu-west-1:123456789012:Automation-gate"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:eu-west-1:123456789012:rule/gate-approval-result"
    }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = {
      arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/gate-approvals"
    }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn     = "arn:aws:lambda:eu-west-1:123456789012:function:mock"
      version = "1"
    }
  }
  mock_resource "aws_lambda_alias" {
    defaults = {
      arn = "arn:aws:lambda:eu-west-1:123456789012:function:gate-start-approval:live"
    }
  }
}

variables {
  name_prefix         = "gate"
  manifest_path       = "../lambda_service/tests/fixtures/manifest.json"
  approvers           = ["arn:aws:iam::123456789012:role/approver", "alice"]
  notification_emails = ["approvers@example.com"]
}

run "defaults" {
  command = apply

  assert {
    condition     = aws_sns_topic.notification.name == "Automation-gate"
    error_message = "The topic name must start with Automation."
  }
  assert {
    condition     = length(aws_sns_topic_subscription.email) == 1
    error_message = "One e-mail subscription per address."
  }
  assert {
    condition     = strcontains(aws_ssm_document.approval.content, "timeoutSeconds: 604800") && aws_ssm_document.approval.document_type == "Automation"
    error_message = "The document's approve step times out after 7 days by default."
  }
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.approval_result.event_pattern) == {
      source        = ["aws.ssm"]
      "detail-type" = ["EC2 Automation Step Status-change Notification"]
      detail = {
        Definition = ["gate-approval"]
        Action     = ["aws:approve"]
        Status = [{ "anything-but" = [
          "Pending", "InProgress", "Waiting", "Cancelling", "PendingApproval", "Scheduled",
          "RunbookInProgress", "PendingChangeCalendarOverride", "ChangeCalendarOverrideApproved",
        ] }]
      }
    }
    error_message = "The rule must match every terminal status of this document's approve step: anything but the non-terminal ones."
  }
  assert {
    condition = alltrue([
      for status in ["Success", "Failed", "TimedOut", "Cancelled", "Rejected", "Approved", "CompletedWithSuccess", "CompletedWithFailure", "Exited", "ChangeCalendarOverrideRejected"] :
      !contains(jsondecode(aws_cloudwatch_event_rule.approval_result.event_pattern).detail.Status[0]["anything-but"], status)
    ])
    error_message = "No terminal status (documented or a variant) may be excluded by the rule."
  }
  assert {
    condition     = module.functions["sweep_approvals"].function_name == "gate-sweep-approvals" && aws_cloudwatch_event_target.sweep_approvals.arn == module.functions["sweep_approvals"].alias_arn
    error_message = "The schedule runs the sweep function."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["failed_notifications"].namespace == "AWS/SNS" &&
      aws_cloudwatch_metric_alarm.this["failed_notifications"].metric_name == "NumberOfNotificationsFailed" &&
      aws_cloudwatch_metric_alarm.this["failed_notifications"].dimensions == tomap({ TopicName = "Automation-gate" }) &&
      aws_cloudwatch_metric_alarm.this["failed_notifications"].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.this["failed_notifications"].threshold == 0 &&
      output.failed_notifications_alarm_name == "gate-failed-approval-notifications"
    )
    error_message = "An alarm on the notification topic's failed deliveries, and its output."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["approvals_queued"].namespace == "ApprovalGate" &&
      aws_cloudwatch_metric_alarm.this["approvals_queued"].metric_name == "ApprovalsQueued" &&
      aws_cloudwatch_metric_alarm.this["approvals_queued"].dimensions == tomap({ service = "receive_result" }) &&
      aws_cloudwatch_metric_alarm.this["approvals_queued"].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.this["approvals_queued"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.this["approvals_queued"].period == 300 &&
      output.approvals_queued_alarm_name == "gate-approvals-queued"
    )
    error_message = "An alarm on ApprovalsQueued > 0 as the sweep publishes it (namespace, dimension service = receive_result), one sweep interval long, and its output."
  }
  assert {
    condition = (
      data.aws_iam_policy_document.approver.statement[0].actions == toset(["ssm:SendAutomationSignal"]) &&
      data.aws_iam_policy_document.approver.statement[0].resources == toset(["arn:aws:ssm:eu-west-1:123456789012:automation-execution/*"]) &&
      data.aws_iam_policy_document.approver.statement[1].actions == toset(["ssm:GetAutomationExecution", "ssm:DescribeAutomationStepExecutions"]) &&
      data.aws_iam_policy_document.approver.statement[2].actions == toset(["ssm:DescribeAutomationExecutions"]) &&
      data.aws_iam_policy_document.approver.statement[2].resources == toset(["*"]) &&
      data.aws_iam_policy_document.approver.statement[3].actions == toset(["ssm:GetDocument", "ssm:DescribeDocument"]) &&
      data.aws_iam_policy_document.approver.statement[3].resources == toset(["arn:aws:ssm:eu-west-1:123456789012:document/gate-approval"]) &&
      output.approver_policy_json == data.aws_iam_policy_document.approver.json
    )
    error_message = "The approver policy: signal and read the automations, list them, read this document."
  }
  assert {
    condition     = aws_cloudwatch_event_rule.approval_result.state == "ENABLED"
    error_message = "The rule is enabled by default."
  }
  assert {
    condition     = aws_cloudwatch_event_target.receive_result.dead_letter_config[0].arn == aws_sqs_queue.dead_letter.arn && aws_cloudwatch_event_target.receive_result.retry_policy[0].maximum_retry_attempts == 185
    error_message = "The target retries and has a dead-letter queue."
  }
  assert {
    condition     = aws_lambda_permission.events_invoke_receive_result.qualifier == "live" && aws_lambda_permission.events_invoke_receive_result.principal == "events.amazonaws.com"
    error_message = "EventBridge may invoke the receive_result alias."
  }
  assert {
    condition = (
      aws_dynamodb_table.approvals.hash_key == "pk" &&
      toset(aws_dynamodb_table.approvals.global_secondary_index[*].name) == toset(["by_execution", "pending", "by_status"]) &&
      aws_dynamodb_table.approvals.ttl[0].attribute_name == "expiration" &&
      aws_dynamodb_table.approvals.point_in_time_recovery[0].enabled &&
      aws_dynamodb_table.approvals.billing_mode == "PAY_PER_REQUEST"
    )
    error_message = "The table must follow docs/contracts.md."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.TimeoutSeconds == 5 * 604800 + 4 * (300 + 60 + 120) + 3600
    error_message = "The Task waits an hour longer than the longest approval: 5 stages of 7 days by default, the first 4 each with a lost event delivered by the sweep."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.ResultPath == "$.approval"
    error_message = "The decision lands at $.approval."
  }
  assert {
    condition = jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.Parameters.Payload == {
      "task_token.$"         = "$$.Task.Token"
      "execution_arn.$"      = "$$.Execution.Id"
      "state_name.$"         = "$$.State.Name"
      "state_entered_time.$" = "$$.State.EnteredTime"
      "request.$"            = "$"
    }
    error_message = "The Task payload must follow docs/contracts.md."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:123456789012:function:gate-start-approval:live"
    error_message = "The Task invokes the start_approval alias."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.ApprovalFailed.ErrorPath == "$.error.Error"
    error_message = "The Fail state carries the caught error."
  }
  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD" && aws_sfn_state_machine.this.tracing_configuration[0].enabled
    error_message = "A traced Standard state machine."
  }
  assert {
    condition     = aws_sfn_state_machine.this.logging_configuration[0].level == "ALL" && !aws_sfn_state_machine.this.logging_configuration[0].include_execution_data
    error_message = "Every event is logged, without execution data (the task token)."
  }
  assert {
    condition     = jsondecode(output.state_machine_input_example).approvers == ["arn:aws:iam::123456789012:role/approver", "alice"]
    error_message = "The input example names the default approvers."
  }
  assert {
    condition     = aws_iam_role.automation.name == "gate-automation-eu-west-1"
    error_message = "The automation role is named after the prefix and region."
  }
}

run "lifecycle" {
  command = plan

  variables {
    sweep_interval_minutes    = 10
    client_state_machine_arns = ["arn:aws:states:eu-west-1:123456789012:stateMachine:release"]
  }

  assert {
    condition     = aws_cloudwatch_event_rule.sweep.schedule_expression == "rate(10 minutes)" && aws_cloudwatch_event_target.sweep_approvals.retry_policy[0].maximum_retry_attempts == 0
    error_message = "The sweep runs every sweep_interval_minutes; a missed one is made good by the next."
  }
  assert {
    condition     = module.functions["sweep_approvals"].function_name == "gate-sweep-approvals" && module.functions["close_approvals"].function_name == "gate-close-approvals"
    error_message = "The lifecycle functions are named after the prefix."
  }
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.workflow_ended.event_pattern) == {
      source        = ["aws.states"]
      "detail-type" = ["Step Functions Execution Status Change"]
      detail = {
        stateMachineArn = [
          "arn:aws:states:eu-west-1:123456789012:stateMachine:gate",
          "arn:aws:states:eu-west-1:123456789012:stateMachine:release",
        ]
        status = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
      }
    }
    error_message = "The workflow-ended rule matches the end of the gate's own and the listed state machines' executions."
  }
  assert {
    condition     = aws_cloudwatch_event_target.close_approvals.dead_letter_config[0].arn == aws_sqs_queue.dead_letter.arn
    error_message = "A workflow-ended event that cannot be handled is kept in the dead-letter queue."
  }
  assert {
    condition = anytrue([
      for index in aws_dynamodb_table.approvals.global_secondary_index :
      index.name == "pending" && index.projection_type == "INCLUDE" && try(toset(index.non_key_attributes), null) == toset(["approval_id", "automation_execution_id"])
    ])
    error_message = "The pending index leaves the task token out."
  }
  assert {
    condition = anytrue([
      for index in aws_dynamodb_table.approvals.global_secondary_index :
      index.name == "by_status" && index.projection_type == "INCLUDE" && !contains(coalesce(index.non_key_attributes, ["task_token"]), "task_token")
    ])
    error_message = "The by_status index (the approvals command line) leaves the task token out."
  }
}

run "queue_limit" {
  command = plan

  variables {
    sweep_reserved_concurrency          = 1
    start_approval_reserved_concurrency = 5
    receive_result_reserved_concurrency = 10
    max_queued_seconds                  = 600
  }

  assert {
    condition     = local.functions.sweep_approvals.environment.MAX_QUEUED_SECONDS == "600" && local.functions.sweep_approvals.environment.APPROVALS_TABLE_NAME == "gate-approvals"
    error_message = "max_queued_seconds reaches the sweep as MAX_QUEUED_SECONDS, beside receive_result's own settings."
  }
}

run "queue_limit_by_default" {
  command = plan

  assert {
    condition     = local.functions.sweep_approvals.environment.MAX_QUEUED_SECONDS == "3600"
    error_message = "A queued approval is cancelled after an hour by default."
  }
}

run "queue_limit_disabled" {
  command = plan

  variables {
    max_queued_seconds = 0
  }

  assert {
    condition     = local.functions.sweep_approvals.environment.MAX_QUEUED_SECONDS == "0" && strcontains(aws_cloudwatch_metric_alarm.this["approvals_queued"].alarm_description, "never cancelled")
    error_message = "0 disables the cancellation; the alarm still watches the queue."
  }
}

run "queue_limit_below_a_minute_refused" {
  command = plan

  variables {
    max_queued_seconds = 30
  }

  expect_failures = [var.max_queued_seconds]
}

run "sweep_grace_reaches_the_sweep_and_the_margin" {
  command = plan

  variables {
    sweep_grace_seconds = 600
    max_approval_stages = 2
  }

  assert {
    condition     = local.functions.sweep_approvals.environment.SWEEP_GRACE_SECONDS == "600" && local.minimum_timeout_margin == 300 + 600 + 120 && local.task_timeout_seconds == 2 * 604800 + (300 + 600 + 120) + 3600
    error_message = "sweep_grace_seconds reaches the sweep; the margin covers it, and the Task's timeout once more for the first stage."
  }
}

run "delivery_lease_is_the_functions_timeout" {
  command = plan

  variables {
    lambda_timeout_seconds = 45
  }

  assert {
    condition     = local.functions.receive_result.environment.DELIVERY_LEASE_SECONDS == "45" && local.functions.sweep_approvals.environment.DELIVERY_LEASE_SECONDS == "45" && !contains(keys(local.functions.close_approvals.environment), "DELIVERY_LEASE_SECONDS")
    error_message = "Both delivering functions hold a claimed callback for their timeout; close_approvals delivers nothing."
  }
}

run "escalation_defaults_reach_start_approval" {
  command = plan

  variables {
    escalate_after_seconds = 7200
    escalation_approvers   = ["arn:aws:iam::123456789012:user/oncall"]
  }

  assert {
    condition     = local.functions.start_approval.environment.ESCALATE_AFTER_SECONDS == "7200" && local.functions.start_approval.environment.ESCALATION_APPROVERS == "arn:aws:iam::123456789012:user/oncall"
    error_message = "The deployment's escalation reaches start_approval."
  }
}

run "no_escalation_by_default" {
  command = plan

  assert {
    condition     = !contains(keys(local.functions.start_approval.environment), "ESCALATE_AFTER_SECONDS")
    error_message = "No escalation unless a request or the deployment asks."
  }
}

run "escalation_below_a_minute_refused" {
  command = plan

  variables {
    escalate_after_seconds = 30
  }

  expect_failures = [var.escalate_after_seconds]
}

run "margin_shorter_than_the_sweep_grace_refused" {
  command = plan

  variables {
    sweep_grace_seconds         = 600
    task_timeout_margin_seconds = 900
  }

  expect_failures = [aws_sfn_state_machine.this]
}

run "sweep_grace_out_of_range_refused" {
  command = plan

  variables {
    sweep_grace_seconds = 3601
  }

  expect_failures = [var.sweep_grace_seconds]
}

run "queue_limit_fraction_refused" {
  command = plan

  variables {
    max_queued_seconds = 90.5
  }

  expect_failures = [var.max_queued_seconds]
}

run "sweep_reserved_concurrency_zero_refused" {
  command = plan

  variables {
    sweep_reserved_concurrency = 0
  }

  expect_failures = [var.sweep_reserved_concurrency]
}

run "start_approval_reserved_concurrency_fraction_refused" {
  command = plan

  variables {
    start_approval_reserved_concurrency = 1.5
  }

  expect_failures = [var.start_approval_reserved_concurrency]
}

run "receive_result_reserved_concurrency_zero_refused" {
  command = plan

  variables {
    receive_result_reserved_concurrency = 0
  }

  expect_failures = [var.receive_result_reserved_concurrency]
}

run "name_prefix_reserved_by_aws_refused" {
  command = plan

  variables {
    name_prefix = "AWS-gate"
  }

  expect_failures = [var.name_prefix]
}

run "name_prefix_amazon_refused" {
  command = plan

  variables {
    name_prefix = "amazon"
  }

  expect_failures = [var.name_prefix]
}

run "name_prefix_with_underscore_refused" {
  command = plan

  variables {
    name_prefix = "approval_gate"
  }

  expect_failures = [var.name_prefix]
}

run "timeout_margin_shorter_than_a_sweep_refused" {
  command = plan

  variables {
    sweep_interval_minutes      = 120
    task_timeout_margin_seconds = 3600
  }

  expect_failures = [aws_sfn_state_machine.this]
}

run "rule_disabled" {
  command = plan

  variables {
    event_rule_state = "DISABLED"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.approval_result.state == "DISABLED"
    error_message = "event_rule_state must reach the rule."
  }
}

run "quorum_above_approvers_fails" {
  command = plan

  variables {
    min_required_approvals = 3
  }

  expect_failures = [aws_ssm_document.approval]
}

run "too_many_approvers_refused" {
  command = plan

  variables {
    approvers = [for i in range(11) : "user${i}"]
  }

  expect_failures = [var.approvers]
}

run "group_approver_refused" {
  command = plan

  variables {
    approvers = ["arn:aws:iam::123456789012:group/admins"]
  }

  expect_failures = [var.approvers]
}

run "topic_name_must_start_with_automation" {
  command = plan

  variables {
    notification_topic_name = "approvals"
  }

  expect_failures = [var.notification_topic_name]
}

run "timeout_above_30_days_refused" {
  command = plan

  variables {
    approval_timeout_seconds = 2592001
  }

  expect_failures = [var.approval_timeout_seconds]
}

run "bad_email_refused" {
  command = plan

  variables {
    notification_emails = ["not-an-address"]
  }

  expect_failures = [var.notification_emails]
}

run "existing_key_required_without_created_key" {
  command = plan

  variables {
    create_kms_key = false
  }

  expect_failures = [aws_sns_topic.notification]
}

run "existing_key" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  }

  assert {
    condition     = length(aws_kms_key.this) == 0 && aws_sns_topic.notification.kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111"
    error_message = "An existing key replaces the created one."
  }
}

run "thirty_day_approval" {
  command = apply

  variables {
    approval_timeout_seconds = 2592000
  }

  assert {
    condition     = strcontains(aws_ssm_document.approval.content, "timeoutSeconds: 2592000") && jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.TimeoutSeconds == 5 * 2592000 + 4 * (300 + 60 + 120) + 3600
    error_message = "The document and the Task follow approval_timeout_seconds: five stages of 30 days stay within a Standard execution's year."
  }
}

run "stages" {
  command = plan

  variables {
    max_approval_stages              = 2
    distinct_approvers_across_stages = false
    approval_timeout_seconds         = 86400
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.TimeoutSeconds == 2 * 86400 + (300 + 60 + 120) + 3600
    error_message = "The Task waits for max_approval_stages stages of approval_timeout_seconds, a lost event of the first, and the margin."
  }
  assert {
    condition     = local.functions.start_approval.environment.MAX_APPROVAL_STAGES == "2"
    error_message = "max_approval_stages reaches start_approval as MAX_APPROVAL_STAGES."
  }
  assert {
    condition = alltrue([
      for name in ["receive_result", "sweep_approvals"] :
      local.functions[name].environment.DISTINCT_APPROVERS_ACROSS_STAGES == "false"
    ])
    error_message = "distinct_approvers_across_stages reaches receive_result and the sweep."
  }
}

run "stages_by_default" {
  command = plan

  assert {
    condition = alltrue([
      for name in ["receive_result", "sweep_approvals"] : alltrue([
        for key in ["APPROVAL_DOCUMENT_NAME", "APPROVAL_DOCUMENT_VERSION", "NOTIFICATION_TOPIC_ARN", "AUTOMATION_ASSUME_ROLE_ARN"] :
        local.functions[name].environment[key] == local.functions.start_approval.environment[key]
      ])
    ])
    error_message = "receive_result and the sweep start a next stage as start_approval starts the first: same document, version, topic and role."
  }
  assert {
    condition = (
      local.functions.start_approval.environment.MAX_APPROVAL_STAGES == "5" &&
      local.functions.receive_result.environment.DISTINCT_APPROVERS_ACROSS_STAGES == "true" &&
      local.functions.sweep_approvals.environment.DISTINCT_APPROVERS_ACROSS_STAGES == "true"
    )
    error_message = "Five stages at most, and an approver of one stage does not count toward a later one, by default."
  }
  assert {
    condition     = strcontains(aws_ssm_document.approval.content, "Stage:") && strcontains(aws_ssm_document.approval.content, "allowedPattern: '^[1-5]/[1-5]( escalation)?$'") && strcontains(aws_ssm_document.approval.content, "default: '1/1'")
    error_message = "The document takes a Stage parameter (n/count, 1/1 when not given)."
  }
}

run "six_stages_refused" {
  command = plan

  variables {
    max_approval_stages = 6
  }

  expect_failures = [var.max_approval_stages]
}

run "no_stage_refused" {
  command = plan

  variables {
    max_approval_stages = 0
  }

  expect_failures = [var.max_approval_stages]
}
