################################################################################
# Approval records table
################################################################################

locals {
  # Every attribute of an approval record but its task token (what approvers may read).
  record_attributes_without_token = [
    "pk", "approval_id", "execution_arn", "state_name", "requested_at", "requested_epoch",
    "expiration", "status", "automation_execution_id", "updated_at", "outcome", "decided_at",
    "callback", "callback_error", "closed_reason", "message", "approvers",
    "min_required_approvals", "requested_by", "decided_by", "delivered_by",
    "stages", "stage_index", "stage_started_epoch", "stage_results",
    "escalation_automation_execution_id",
  ]
}

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

  attribute {
    name = "status"
    type = "S"
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

  # Approvals by status, newest first: what the `approvals` CLI lists (cli/) without one SSM
  # call per approval. Only approval records carry both keys (the pacing's items have
  # neither). Every attribute but the task token is projected, so reading the index never
  # reads a token.
  global_secondary_index {
    name            = "by_status"
    hash_key        = "status"
    range_key       = "requested_epoch"
    projection_type = "INCLUDE"
    non_key_attributes = [
      "approval_id", "execution_arn", "state_name", "requested_at", "expiration",
      "automation_execution_id", "updated_at", "outcome", "decided_at", "callback",
      "callback_error", "closed_reason", "message", "approvers", "min_required_approvals",
      "requested_by", "decided_by", "delivered_by",
    ]
  }

  # Each approval record's expiry (the pacing's items have none: they stay).
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

