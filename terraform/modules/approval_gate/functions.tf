################################################################################
# The four functions, one lambda_service each: what differs is in local.functions
################################################################################

locals {
  # SSM's rates, shared by every function through slots in the records table
  # (approval_core.pacing). A call waits for its slot up to the function's timeout less
  # 15 s; the sweep waits 10 s at most: under a burst it leaves SSM's rate to the events.
  ssm_api_rates = join(",", [
    for action, rate in var.ssm_api_rate_quotas : "${action}=${format("%g", rate * var.ssm_api_rate_share)}"
  ])
  pacing_environment = {
    SSM_API_RATES               = local.ssm_api_rates
    SSM_PACING_MAX_WAIT_SECONDS = tostring(max(0, var.lambda_timeout_seconds - 15))
  }

  # A request's default reminder interval; not set: no reminders unless the request asks.
  reminder_environment = {
    for name, seconds in { REMIND_AFTER_SECONDS = var.remind_after_seconds } :
    name => tostring(seconds) if seconds != null
  }

  # A request's default escalation; not set: no escalation unless the request asks.
  escalation_environment = var.escalate_after_seconds == null ? {} : {
    ESCALATE_AFTER_SECONDS = tostring(var.escalate_after_seconds)
    ESCALATION_APPROVERS   = join(",", var.escalation_approvers)
  }

  # What starting an approval's automation takes (approval_core.launcher.AutomationDocument):
  # start_approval starts an approval's first stage.
  automation_environment = {
    APPROVAL_DOCUMENT_NAME     = aws_ssm_document.approval.name
    APPROVAL_DOCUMENT_VERSION  = "$DEFAULT"
    NOTIFICATION_TOPIC_ARN     = aws_sns_topic.notification.arn
    AUTOMATION_ASSUME_ROLE_ARN = aws_iam_role.automation.arn
  }
  # receive_result and the sweep (which delivers through the same code) start the next
  # stages: the same document, topic and role, and whether an earlier stage's approvers count.
  next_stage_environment = merge(local.automation_environment, {
    DISTINCT_APPROVERS_ACROSS_STAGES = tostring(var.distinct_approvers_across_stages)
  })

  # receive_result's code runs three functions (delivery, sweep, closing): one configuration.
  receive_result_environment = merge(local.pacing_environment, {
    APPROVALS_TABLE_NAME   = aws_dynamodb_table.approvals.name
    APPROVAL_DOCUMENT_NAME = aws_ssm_document.approval.name
  })

  # The two functions that deliver decisions: the one that claims a decision holds its
  # callback for as long as it can run (its timeout), so another attempt takes over a
  # delivery left half-way only once that holder cannot be running any more.
  delivery_environment = {
    DELIVERY_LEASE_SECONDS = tostring(var.lambda_timeout_seconds)
  }

  # What differs between the functions, keyed by each function's one name (main.tf's
  # local.function_names holds its AWS name). handler null: the service's own entry
  # point, from the build manifest.
  functions = {
    start_approval = {
      service     = "start_approval"
      handler     = null
      description = "Starts the SSM Automation approval ${local.document_name} for a Step Functions task token."
      environment = merge(local.pacing_environment, local.automation_environment, {
        APPROVALS_TABLE_NAME           = aws_dynamodb_table.approvals.name
        DEFAULT_APPROVERS              = join(",", var.approvers)
        DEFAULT_MIN_REQUIRED_APPROVALS = tostring(var.min_required_approvals)
        APPROVAL_TIMEOUT_SECONDS       = tostring(var.approval_timeout_seconds)
        RECORD_RETENTION_DAYS          = tostring(var.record_retention_days)
        PREVENT_SELF_APPROVAL          = tostring(var.prevent_self_approval)
        MAX_REMINDERS                  = tostring(var.max_reminders)
        MAX_APPROVAL_STAGES            = tostring(var.max_approval_stages)
      }, local.reminder_environment, local.escalation_environment)
      policy_json          = data.aws_iam_policy_document.start_approval.json
      reserved_concurrency = var.start_approval_reserved_concurrency
      # Invoked synchronously by the state machine: a failure returns to the Task.
      dead_letter_target_arn = null
    }

    receive_result = {
      service              = "receive_result"
      handler              = null
      description          = "Reads the decision of ${local.document_name} and sends it back to the waiting Step Functions task, or asks the approval's next stage."
      environment          = merge(local.receive_result_environment, local.next_stage_environment, local.delivery_environment)
      policy_json          = data.aws_iam_policy_document.receive_result.json
      reserved_concurrency = var.receive_result_reserved_concurrency
      # Asynchronous invocations (from EventBridge) that fail all Lambda retries.
      dead_letter_target_arn = aws_sqs_queue.dead_letter.arn
    }

    sweep_approvals = {
      service     = "receive_result"
      handler     = "receive_result.handlers.sweep_approvals.lambda_handler"
      description = "Every ${var.sweep_interval_minutes} min: delivers the decisions of ${local.document_name} whose event was lost, reminds approvers."
      # The sweep also cancels approvals queued too long by SSM (0: never), and reminds the
      # approvers on the topic SSM notified them on (NOTIFICATION_TOPIC_ARN).
      environment = merge(local.receive_result_environment, local.next_stage_environment, local.delivery_environment, {
        MAX_QUEUED_SECONDS          = tostring(var.max_queued_seconds)
        SWEEP_GRACE_SECONDS         = tostring(var.sweep_grace_seconds)
        SSM_PACING_MAX_WAIT_SECONDS = tostring(min(10, max(0, var.lambda_timeout_seconds - 15)))
      })
      policy_json = data.aws_iam_policy_document.sweep_approvals.json
      # null by default: a reservation needs 100 unreserved executions left in the account
      # (docs/aws-behaviour.md#lambda-unreserved-concurrency-minimum); overlapping sweeps are
      # safe (conditional record writes), 1 keeps them apart where the account allows it.
      reserved_concurrency = var.sweep_reserved_concurrency
      # A missed sweep is made good by the next one: no dead-letter queue.
      dead_letter_target_arn = null
    }

    close_approvals = {
      service                = "receive_result"
      handler                = "receive_result.handlers.close_approvals.lambda_handler"
      description            = "Closes the approvals of workflows that ended while they waited, and cancels their automations."
      environment            = local.receive_result_environment
      policy_json            = data.aws_iam_policy_document.close_approvals.json
      reserved_concurrency   = var.receive_result_reserved_concurrency
      dead_letter_target_arn = aws_sqs_queue.dead_letter.arn
    }
  }
}

# One instance per name of local.function_names (each.value: its AWS name), configured by
# local.functions[each.key]. for_each over the names, which hold no resource reference,
# lets checkov expand the instances and check each function (it cannot expand
# local.functions).
module "functions" {
  source   = "../lambda_service"
  for_each = local.function_names

  manifest_path = var.manifest_path
  service_name  = local.functions[each.key].service
  handler       = local.functions[each.key].handler
  function_name = each.value
  description   = local.functions[each.key].description
  alias_name    = var.lambda_alias_name

  environment_variables = local.functions[each.key].environment
  metrics_namespace     = var.metrics_namespace
  log_level             = var.log_level
  policy_json           = local.functions[each.key].policy_json

  memory_size                    = var.lambda_memory_size
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = local.functions[each.key].reserved_concurrency
  dead_letter_target_arn         = local.functions[each.key].dead_letter_target_arn
  environment_kms_key_arn        = local.kms_key_arn
  log_kms_key_arn                = local.kms_key_arn
  log_retention_in_days          = var.log_retention_in_days
  role_permissions_boundary      = var.role_permissions_boundary

  tags = local.tags
}
