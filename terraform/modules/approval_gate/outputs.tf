################################################################################
# State machine
################################################################################

output "state_machine_arn" {
  description = "ARN of the approval state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the approval state machine."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_role_arn" {
  description = "ARN of the state machine's IAM role."
  value       = aws_iam_role.state_machine.arn
}

output "state_machine_log_group_name" {
  description = "CloudWatch log group of the state machine's executions."
  value       = aws_cloudwatch_log_group.state_machine.name
}

output "state_machine_input_example" {
  description = "A ready-to-use execution input (JSON), like the original stack's StepFunctionsInputExample, in the gate's request format. Replace confirmation_url and confirmation_file (or give `message` instead)."
  value       = local.input_example
}

output "start_execution_command" {
  description = "AWS CLI command that starts an execution with state_machine_input_example."
  value       = "aws stepfunctions start-execution --region ${local.region} --state-machine-arn ${aws_sfn_state_machine.this.arn} --input '${local.input_example}'"
}

output "approval_task_state" {
  description = "The gate's waitForTaskToken Task state (JSON, without Next/Catch), to embed the approval in another state machine. That machine's role needs lambda:InvokeFunction on start_approval_alias_arn."
  value       = jsonencode({ for key, value in jsondecode(local.state_machine_definition).States.RequestApproval : key => value if !contains(["Next", "Catch"], key) })
}

################################################################################
# Functions
################################################################################

output "start_approval_function_name" {
  description = "Name of the start_approval function."
  value       = module.functions["start_approval"].function_name
}

output "start_approval_function_arn" {
  description = "ARN of the start_approval function."
  value       = module.functions["start_approval"].function_arn
}

output "start_approval_alias_arn" {
  description = "ARN of the start_approval alias (what a state machine invokes)."
  value       = module.functions["start_approval"].alias_arn
}

output "start_approval_version" {
  description = "Service version and published Lambda version of start_approval."
  value       = { service = module.functions["start_approval"].service_version, lambda = module.functions["start_approval"].function_version }
}

output "start_approval_log_group_name" {
  description = "Log group of start_approval."
  value       = module.functions["start_approval"].log_group_name
}

output "start_approval_role_arn" {
  description = "ARN of start_approval's IAM role."
  value       = module.functions["start_approval"].role_arn
}

output "receive_result_function_name" {
  description = "Name of the receive_result function."
  value       = module.functions["receive_result"].function_name
}

output "receive_result_function_arn" {
  description = "ARN of the receive_result function."
  value       = module.functions["receive_result"].function_arn
}

output "receive_result_alias_arn" {
  description = "ARN of the receive_result alias (the event rule's target)."
  value       = module.functions["receive_result"].alias_arn
}

output "receive_result_version" {
  description = "Service version and published Lambda version of receive_result."
  value       = { service = module.functions["receive_result"].service_version, lambda = module.functions["receive_result"].function_version }
}

output "receive_result_log_group_name" {
  description = "Log group of receive_result."
  value       = module.functions["receive_result"].log_group_name
}

output "receive_result_role_arn" {
  description = "ARN of receive_result's IAM role."
  value       = module.functions["receive_result"].role_arn
}

################################################################################
# Approval resources
################################################################################

output "approvals_table_name" {
  description = "Name of the approval records table."
  value       = aws_dynamodb_table.approvals.name
}

output "approvals_table_arn" {
  description = "ARN of the approval records table."
  value       = aws_dynamodb_table.approvals.arn
}

output "notification_topic_name" {
  description = "Name of the SNS topic that asks the approvers."
  value       = aws_sns_topic.notification.name
}

output "notification_topic_arn" {
  description = "ARN of the SNS topic that asks the approvers (subscribe more endpoints to it)."
  value       = aws_sns_topic.notification.arn
}

output "document_name" {
  description = "Name of the SSM Automation approval document."
  value       = aws_ssm_document.approval.name
}

output "document_arn" {
  description = "ARN of the SSM Automation approval document."
  value       = aws_ssm_document.approval.arn
}

output "document_version" {
  description = "Latest version of the SSM document (made its default by Terraform)."
  value       = aws_ssm_document.approval.latest_version
}

output "automation_role_name" {
  description = "Name of the role the automation runs as."
  value       = aws_iam_role.automation.name
}

output "automation_role_arn" {
  description = "ARN of the role the automation runs as (AUTOMATION_ASSUME_ROLE_ARN)."
  value       = aws_iam_role.automation.arn
}

output "event_rule_name" {
  description = "Name of the EventBridge rule that delivers approval results."
  value       = aws_cloudwatch_event_rule.approval_result.name
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule that delivers approval results."
  value       = aws_cloudwatch_event_rule.approval_result.arn
}

output "dead_letter_queue_name" {
  description = "Name of the SQS queue holding result events that could not be delivered (by EventBridge or after receive_result's retries)."
  value       = aws_sqs_queue.dead_letter.name
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the gate's data."
  value       = local.kms_key_arn
}

output "dead_letter_alarm_name" {
  description = "CloudWatch alarm that fires when an approval result lands in the dead-letter queue."
  value       = aws_cloudwatch_metric_alarm.this["dead_letters"].alarm_name
}

output "sweep_function_name" {
  description = "Name of the sweep function (receive_result's code): delivers decisions whose SSM event was lost."
  value       = module.functions["sweep_approvals"].function_name
}

output "sweep_log_group_name" {
  description = "Log group of the sweep function."
  value       = module.functions["sweep_approvals"].log_group_name
}

output "sweep_rule_name" {
  description = "Name of the scheduled EventBridge rule that runs the sweep."
  value       = aws_cloudwatch_event_rule.sweep.name
}

output "close_approvals_function_name" {
  description = "Name of the function (receive_result's code) that closes the approvals of ended workflows and cancels their automations."
  value       = module.functions["close_approvals"].function_name
}

output "close_approvals_alias_arn" {
  description = "ARN of the close_approvals alias (`make redrive` replays Step Functions events to it)."
  value       = module.functions["close_approvals"].alias_arn
}

output "close_approvals_log_group_name" {
  description = "Log group of the close_approvals function."
  value       = module.functions["close_approvals"].log_group_name
}

output "workflow_ended_rule_name" {
  description = "Name of the EventBridge rule on Step Functions Execution Status Change of the workflows that use the gate."
  value       = aws_cloudwatch_event_rule.workflow_ended.name
}

################################################################################
# Alarms and approvers
################################################################################

output "failed_notifications_alarm_name" {
  description = "CloudWatch alarm that fires when SNS fails to deliver an approval request from the notification topic (AWS/SNS NumberOfNotificationsFailed)."
  value       = aws_cloudwatch_metric_alarm.this["failed_notifications"].alarm_name
}

output "approvals_queued_alarm_name" {
  description = "CloudWatch alarm that fires when approvals wait in SSM's automation queue (metric ApprovalsQueued of the sweep > 0): nobody is asked until the account runs fewer automations."
  value       = aws_cloudwatch_metric_alarm.this["approvals_queued"].alarm_name
}

output "approver_policy_json" {
  description = "IAM policy (JSON) an approver needs: ssm:SendAutomationSignal and read access on the automations, ssm:DescribeAutomationExecutions, ssm:GetDocument/DescribeDocument on the approval document, and for the approvals command line the records without their task token (GetItem/Query by projection only), states:DescribeExecution and X-Ray's reads. Attach it to each approver user or role (README: Approvers' permissions); aws:approve's approver list alone grants nothing."
  value       = data.aws_iam_policy_document.approver.json
}
