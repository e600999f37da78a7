################################################################################
# Alarms: what an operator must act on. Each notifies alarm_actions (alarm and OK) on the
# first occurrence (> 0 in one period); no data is not a breach.
################################################################################

locals {
  alarms = {
    # Anything in the dead-letter queue is a decision that did not reach its workflow. After
    # the fix, `make redrive` replays them (README, Operating it).
    dead_letters = {
      name        = "${var.name_prefix}-undelivered-approval-results"
      description = "Approval results in ${local.queue_name} did not reach their workflow. Read the queue, fix the cause, then replay them with `make redrive`."
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.dead_letter.name }
      statistic   = "Maximum"
      period      = 60
    }
    # A notification SNS could not deliver (a bounced address, a subscriber endpoint that
    # fails): an approver may never hear of the request
    # (docs/aws-behaviour.md#sns-delivery-failure-metrics).
    failed_notifications = {
      name        = "${var.name_prefix}-failed-approval-notifications"
      description = "SNS could not deliver approval requests from ${local.topic_name} to a subscriber: an approver may not know an approval waits. Check the topic's subscriptions (confirmed, reachable) and its delivery status logs."
      namespace   = "AWS/SNS"
      metric_name = "NumberOfNotificationsFailed"
      dimensions  = { TopicName = aws_sns_topic.notification.name }
      statistic   = "Sum"
      period      = 300
    }
    # Approvals whose automation SSM keeps Pending (queued past the account's concurrent
    # automation quota: no step runs, nobody is asked;
    # docs/aws-behaviour.md#ssm-automation-concurrency-queue). The sweep counts them each
    # run: metric ApprovalsQueued, with the one dimension Powertools adds, `service` (its
    # POWERTOOLS_SERVICE_NAME: the sweep runs receive_result's code).
    approvals_queued = {
      name        = "${var.name_prefix}-approvals-queued"
      description = "Approvals of ${local.document_name} wait in SSM's automation queue: the account runs as many automations as its quota allows, and nobody is asked until one ends. Stop automations that are no longer needed or raise the quota (Service Quotas: Systems Manager, concurrently executing automations). ${var.max_queued_seconds == 0 ? "Queued approvals are never cancelled (max_queued_seconds = 0)." : "After ${var.max_queued_seconds} s queued, the sweep cancels one and fails its workflow with Approval.NotStarted."}"
      namespace   = var.metrics_namespace
      metric_name = "ApprovalsQueued"
      dimensions  = { service = "receive_result" }
      statistic   = "Maximum"
      period      = local.sweep_interval_seconds
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = each.value.name
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}
