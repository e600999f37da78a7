# The gate deployed into the local AWS (the sandbox on 127.0.0.1): the local AWS's deployer
# key (it evaluates IAM and refuses keys it does not know), every service used pointed at one
# endpoint, no call to the real AWS.
provider "aws" {
  #checkov:skip=CKV_AWS_41:The local AWS's deployer key (sandbox/iam/admin.py), plainly not an AWS key.
  region     = var.region
  access_key = var.access_key
  secret_key = var.secret_key

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # A call the local AWS lacks fails in seconds instead of minutes of retried 500s.
  max_retries = 2

  endpoints {
    cloudwatch = var.endpoint
    dynamodb   = var.endpoint
    events     = var.endpoint
    iam        = var.endpoint
    kms        = var.endpoint
    lambda     = var.endpoint
    logs       = var.endpoint
    sfn        = var.endpoint
    sns        = var.endpoint
    sqs        = var.endpoint
    ssm        = var.endpoint
    sts        = var.endpoint
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

  # Short-lived local stacks.
  kms_key_deletion_window_in_days = 7
}
