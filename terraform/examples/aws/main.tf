provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

module "approval_gate" {
  source = "../../modules/approval_gate"

  name_prefix   = var.name_prefix
  manifest_path = var.manifest_path

  notification_emails       = var.notification_emails
  approvers                 = var.approvers
  min_required_approvals    = var.min_required_approvals
  approval_timeout_seconds  = var.approval_timeout_seconds
  sweep_interval_minutes    = var.sweep_interval_minutes
  client_state_machine_arns = var.client_state_machine_arns
  event_rule_state          = var.event_rule_state
}
