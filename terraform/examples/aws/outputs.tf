output "state_machine_arn" {
  description = "ARN of the approval state machine."
  value       = module.approval_gate.state_machine_arn
}

output "state_machine_input_example" {
  description = "A ready-to-use execution input (JSON)."
  value       = module.approval_gate.state_machine_input_example
}

output "start_execution_command" {
  description = "AWS CLI command that starts an execution with the example input."
  value       = module.approval_gate.start_execution_command
}

output "start_approval_alias_arn" {
  description = "ARN of the start_approval alias."
  value       = module.approval_gate.start_approval_alias_arn
}

output "receive_result_alias_arn" {
  description = "ARN of the receive_result alias."
  value       = module.approval_gate.receive_result_alias_arn
}

output "approvals_table_name" {
  description = "Name of the approval records table."
  value       = module.approval_gate.approvals_table_name
}

output "notification_topic_arn" {
  description = "ARN of the notification topic."
  value       = module.approval_gate.notification_topic_arn
}

output "document_name" {
  description = "Name of the SSM Automation approval document."
  value       = module.approval_gate.document_name
}

output "event_rule_name" {
  description = "Name of the EventBridge rule that delivers results."
  value       = module.approval_gate.event_rule_name
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue of undelivered results."
  value       = module.approval_gate.dead_letter_queue_url
}

output "dead_letter_alarm_name" {
  description = "CloudWatch alarm on the dead-letter queue."
  value       = module.approval_gate.dead_letter_alarm_name
}

output "sweep_function_name" {
  description = "Name of the sweep function (delivers decisions whose SSM event was lost)."
  value       = module.approval_gate.sweep_function_name
}

output "close_approvals_function_name" {
  description = "Name of the function that closes the approvals of ended workflows."
  value       = module.approval_gate.close_approvals_function_name
}

output "close_approvals_alias_arn" {
  description = "ARN of the close_approvals alias."
  value       = module.approval_gate.close_approvals_alias_arn
}

output "approver_policy_json" {
  description = "IAM policy (JSON) each approver needs; attach it to the approvers' users or roles (module README: Approvers' permissions)."
  value       = module.approval_gate.approver_policy_json
}

output "failed_notifications_alarm_name" {
  description = "CloudWatch alarm on approval requests SNS could not deliver."
  value       = module.approval_gate.failed_notifications_alarm_name
}

output "approvals_queued_alarm_name" {
  description = "CloudWatch alarm on approvals queued by SSM past the account's automation quota."
  value       = module.approval_gate.approvals_queued_alarm_name
}
