# Addresses of earlier releases of this module. Terraform moves the existing objects to
# their new address instead of destroying and recreating them (AWS names are unchanged).
# Keep these blocks for as long as a deployment from before may be upgraded.

# The four lambda_service calls became one, for_each over local.functions.
moved {
  from = module.start_approval
  to   = module.functions["start_approval"]
}

moved {
  from = module.receive_result
  to   = module.functions["receive_result"]
}

moved {
  from = module.sweep_approvals
  to   = module.functions["sweep_approvals"]
}

moved {
  from = module.close_approvals
  to   = module.functions["close_approvals"]
}

# A rule's target and permission are named after the function they invoke.
moved {
  from = aws_cloudwatch_event_target.sweep
  to   = aws_cloudwatch_event_target.sweep_approvals
}

moved {
  from = aws_lambda_permission.events_invoke_sweep
  to   = aws_lambda_permission.events_invoke_sweep_approvals
}

# The three alarms became one resource, for_each over local.alarms.
moved {
  from = aws_cloudwatch_metric_alarm.dead_letters
  to   = aws_cloudwatch_metric_alarm.this["dead_letters"]
}

moved {
  from = aws_cloudwatch_metric_alarm.failed_notifications
  to   = aws_cloudwatch_metric_alarm.this["failed_notifications"]
}

moved {
  from = aws_cloudwatch_metric_alarm.approvals_queued
  to   = aws_cloudwatch_metric_alarm.this["approvals_queued"]
}
