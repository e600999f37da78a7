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

