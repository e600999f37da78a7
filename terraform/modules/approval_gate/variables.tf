################################################################################
# General
################################################################################

variable "name_prefix" {
  description = "Prefix of every resource name (functions, roles, table, queue, rule, state machine, log groups, key alias)."
  type        = string
  default     = "approval-gate"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,31}$", var.name_prefix)) && !endswith(var.name_prefix, "-")
    error_message = "name_prefix must be 1 to 32 characters: letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }

  # The same reserved prefixes as document_name: the document is named
  # `<name_prefix>-approval` unless document_name is set, and SSM refuses a document name
  # starting with aws, amazon or amzn (any case).
  validation {
    condition     = !can(regex("^(?i)(aws|amazon|amzn)", var.name_prefix))
    error_message = "name_prefix must not start with aws, amazon or amzn (any case): SSM reserves these prefixes for document names, and the approval document is named <name_prefix>-approval. Choose another prefix, e.g. \"approval-gate\"."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "manifest_path" {
  description = "Path of the build manifest written by `make package` (`dist/manifest.json`), relative to the directory Terraform runs in. It names the zips of start_approval and receive_result."
  type        = string

  validation {
    condition     = endswith(var.manifest_path, ".json")
    error_message = "manifest_path must point at the build manifest (a .json file, normally dist/manifest.json written by `make package`)."
  }
}

################################################################################
# Approval (the original stack's parameters)
################################################################################

variable "notification_emails" {
  description = "E-mail addresses subscribed to the notification topic (the original stack's EmailForNotification). Each address must confirm its subscription from the e-mail SNS sends."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.notification_emails : can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", email))])
    error_message = "Every notification_emails entry must be an e-mail address (name@domain.tld)."
  }

  validation {
    condition     = length(distinct(var.notification_emails)) == length(var.notification_emails)
    error_message = "notification_emails must not repeat an address."
  }
}

variable "approvers" {
  description = "Default approvers (the original stack's SsmApprovers), used when a request names none: 1 to 10 IAM user names, IAM user ARNs, IAM role ARNs or assumed-role ARNs (aws:approve accepts no groups)."
  type        = list(string)

  validation {
    condition     = length(var.approvers) >= 1 && length(var.approvers) <= 10
    error_message = "approvers must list 1 to 10 principals (the aws:approve limit)."
  }

  validation {
    condition = alltrue([
      for principal in var.approvers : anytrue([
        can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", principal)),
        can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(user|role)/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$", principal)),
        can(regex("^arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/[A-Za-z0-9+=,.@_-]{1,64}/[A-Za-z0-9+=,.@_-]{2,64}$", principal)),
      ])
    ])
    error_message = "Each approver must be an IAM user name, an IAM user ARN (arn:aws:iam::<account>:user/<name>), an IAM role ARN (arn:aws:iam::<account>:role/<name>) or an assumed-role ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>); a 12-digit account id, no groups."
  }

  validation {
    condition     = length(distinct(var.approvers)) == length(var.approvers)
    error_message = "approvers must not repeat a principal."
  }

  validation {
    condition     = !anytrue([for principal in var.approvers : strcontains(principal, ",")])
    error_message = "approvers must not contain commas: start_approval receives them comma-separated (DEFAULT_APPROVERS)."
  }
}

variable "min_required_approvals" {
  description = "Default quorum (the original stack's SsmMinRequiredApprovals): approvals needed to approve, from 1 to the number of approvers."
  type        = number
  default     = 1

  validation {
    condition     = var.min_required_approvals >= 1 && var.min_required_approvals <= 10 && floor(var.min_required_approvals) == var.min_required_approvals
    error_message = "min_required_approvals must be a whole number from 1 to 10 (and at most the number of approvers)."
  }
}

variable "approval_timeout_seconds" {
  description = "Timeout of the document's aws:approve step in seconds: 7 days by default, at most 30 days (2592000). Each stage of an approval waits up to this long; on expiry the workflow gets Approval.Expired."
  type        = number
  default     = 604800

  validation {
    condition     = var.approval_timeout_seconds >= 60 && var.approval_timeout_seconds <= 2592000 && floor(var.approval_timeout_seconds) == var.approval_timeout_seconds
    error_message = "approval_timeout_seconds must be a whole number of seconds from 60 to 2592000 (30 days, the aws:approve maximum)."
  }
}

variable "task_timeout_margin_seconds" {
  description = "How much longer than the longest possible approval (max_approval_stages x approval_timeout_seconds) the state machine's Task waits for the callback before States.Timeout (covers a late or lost result event): at least sweep_interval_minutes x 60 + sweep_grace_seconds + lambda_timeout_seconds, so the sweep delivers an expiry whose event was lost first (the Task's timeout adds as much for each stage but the last)."
  type        = number
  default     = 3600

  validation {
    condition     = var.task_timeout_margin_seconds >= 60 && var.task_timeout_margin_seconds <= 86400 && floor(var.task_timeout_margin_seconds) == var.task_timeout_margin_seconds
    error_message = "task_timeout_margin_seconds must be a whole number of seconds from 60 to 86400."
  }
}

variable "max_approval_stages" {
  description = "Most stages a request may give (request.stages, 1 to 5; start_approval refuses more). Each stage is one automation that waits up to approval_timeout_seconds, so the state machine's Task waits max_approval_stages x approval_timeout_seconds + task_timeout_margin_seconds: lower it to shorten that bound."
  type        = number
  default     = 5

  validation {
    condition     = var.max_approval_stages >= 1 && var.max_approval_stages <= 5 && floor(var.max_approval_stages) == var.max_approval_stages
    error_message = "max_approval_stages must be a whole number from 1 to 5 (the stages a request may give at most)."
  }
}

variable "distinct_approvers_across_stages" {
  description = "Who approved one stage of an approval does not count toward a later one: they are left out of the later stage's approvers, and a stage then short of its quorum ends the approval with ApprovalPolicyUnsatisfiable. false: one approver may approve several stages."
  type        = bool
  default     = true
}

variable "sweep_interval_minutes" {
  description = "How often the sweep looks for pending approvals whose automation has finished and delivers their decision (SSM events are best effort): a decision whose event is lost reaches its workflow within this interval."
  type        = number
  default     = 5

  validation {
    condition     = var.sweep_interval_minutes >= 1 && var.sweep_interval_minutes <= 1440 && floor(var.sweep_interval_minutes) == var.sweep_interval_minutes
    error_message = "sweep_interval_minutes must be a whole number of minutes from 1 to 1440 (a day)."
  }
}

variable "client_state_machine_arns" {
  description = "ARNs of your own state machines that call start_approval (besides the module's): when one of their executions ends while its approval waits, the approval is closed and its automation cancelled."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.client_state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", arn))])
    error_message = "client_state_machine_arns must hold state machine ARNs (arn:aws:states:<region>:<account>:stateMachine:<name>)."
  }
}

variable "record_retention_days" {
  description = "How long an approval record is kept after its approval could have expired (RECORD_RETENTION_DAYS; sets the record's TTL)."
  type        = number
  default     = 30

  validation {
    condition     = var.record_retention_days >= 1 && var.record_retention_days <= 365 && floor(var.record_retention_days) == var.record_retention_days
    error_message = "record_retention_days must be a whole number of days from 1 to 365."
  }
}

################################################################################
# SSM Automation document and role
################################################################################

variable "document_name" {
  description = "Name of the SSM Automation document (the original stack's SsmDocumentForApprovalActionName). Defaults to `<name_prefix>-approval`."
  type        = string
  default     = null

  validation {
    condition = var.document_name == null || (
      can(regex("^[A-Za-z0-9_.-]{3,128}$", coalesce(var.document_name, "-"))) &&
      !can(regex("^(?i)(aws|amazon|amzn)", coalesce(var.document_name, "-")))
    )
    error_message = "document_name must be 3 to 128 characters (letters, digits, _ - .) and must not start with aws, amazon or amzn (reserved by AWS)."
  }
}

variable "document_version_name" {
  description = "Version name of the SSM document (the original stack's SsmDocumentForApprovalActionVersionName), or null for none. SSM refuses a version name the document already used: change it whenever the document changes (e.g. approval_timeout_seconds)."
  type        = string
  default     = null

  validation {
    condition     = var.document_version_name == null || can(regex("^[A-Za-z0-9_.-]{1,128}$", coalesce(var.document_version_name, "-")))
    error_message = "document_version_name must be 1 to 128 characters: letters, digits, _ - and ."
  }
}

variable "automation_role_name" {
  description = "Name of the role the automation runs as (the original stack's SsmAutomationAssumeRoleName). Defaults to `<name_prefix>-automation-<region>` (IAM is global)."
  type        = string
  default     = null

  validation {
    condition     = var.automation_role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", coalesce(var.automation_role_name, "-")))
    error_message = "automation_role_name must be 1 to 64 characters: letters, digits and + = , . @ _ -."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of a managed policy set as permissions boundary on every role the module creates, or null."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", coalesce(var.role_permissions_boundary, "-")))
    error_message = "role_permissions_boundary must be an IAM policy ARN."
  }
}

################################################################################
# Notification topic
################################################################################

variable "notification_topic_name" {
  description = "Name of the SNS topic that asks the approvers. aws:approve only accepts a topic whose name starts with `Automation`. Defaults to `Automation-<name_prefix>`."
  type        = string
  default     = null

  validation {
    condition = var.notification_topic_name == null || (
      startswith(coalesce(var.notification_topic_name, "-"), "Automation") &&
      can(regex("^[A-Za-z0-9_-]{1,256}$", coalesce(var.notification_topic_name, "-")))
    )
    error_message = "notification_topic_name must start with Automation (an aws:approve requirement) and be at most 256 letters, digits, hyphens and underscores (no .fifo topic)."
  }
}

################################################################################
# Result event rule
################################################################################

variable "event_rule_state" {
  description = "State of the EventBridge rule that delivers approval results (the original stack's EventRuleForAutomationResultState). While DISABLED, decisions are not delivered to waiting workflows."
  type        = string
  default     = "ENABLED"

  validation {
    condition     = contains(["ENABLED", "DISABLED"], var.event_rule_state)
    error_message = "event_rule_state must be ENABLED or DISABLED."
  }
}

variable "event_retry_maximum_attempts" {
  description = "How many times EventBridge retries delivering a result event to receive_result (0 to 185)."
  type        = number
  default     = 185

  validation {
    condition     = var.event_retry_maximum_attempts >= 0 && var.event_retry_maximum_attempts <= 185 && floor(var.event_retry_maximum_attempts) == var.event_retry_maximum_attempts
    error_message = "event_retry_maximum_attempts must be a whole number from 0 to 185."
  }
}

variable "event_maximum_age_seconds" {
  description = "How long EventBridge keeps retrying a result event before sending it to the dead-letter queue (60 to 86400 seconds)."
  type        = number
  default     = 86400

  validation {
    condition     = var.event_maximum_age_seconds >= 60 && var.event_maximum_age_seconds <= 86400 && floor(var.event_maximum_age_seconds) == var.event_maximum_age_seconds
    error_message = "event_maximum_age_seconds must be a whole number of seconds from 60 to 86400."
  }
}

variable "dead_letter_message_retention_seconds" {
  description = "How long undelivered result events stay in the dead-letter queue (60 to 1209600 seconds, 14 days by default)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dead_letter_message_retention_seconds >= 60 && var.dead_letter_message_retention_seconds <= 1209600 && floor(var.dead_letter_message_retention_seconds) == var.dead_letter_message_retention_seconds
    error_message = "dead_letter_message_retention_seconds must be a whole number of seconds from 60 to 1209600."
  }
}

################################################################################
# Functions
################################################################################

variable "lambda_alias_name" {
  description = "Alias of both functions that the state machine and the event rule invoke."
  type        = string
  default     = "live"

  validation {
    condition     = can(regex("^[A-Za-z_-][A-Za-z0-9_-]{0,127}$", var.lambda_alias_name)) && var.lambda_alias_name != "$LATEST"
    error_message = "lambda_alias_name must be 1 to 128 characters (letters, digits, hyphens, underscores), must not start with a digit and must not be $LATEST."
  }
}

variable "lambda_memory_size" {
  description = "Memory of each function in MB (128 to 10240)."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of one invocation of each function, in seconds (1 to 900). start_approval and receive_result wait up to this less 15 s for their slot of SSM's rate (ssm_api_rate_quotas): with 120, a burst of about 100 starts or 300 decisions waits in the functions instead of in retries."
  type        = number
  default     = 120

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 900 && floor(var.lambda_timeout_seconds) == var.lambda_timeout_seconds
    error_message = "lambda_timeout_seconds must be a whole number of seconds from 1 to 900."
  }
}

variable "prevent_self_approval" {
  description = "A request's requested_by is never asked to approve it: every approver entry that could be them (a role they act through included) is left out, and a request then short of its quorum fails with ApprovalPolicyUnsatisfiable. requested_by is what the workflow declares (README: Separation of duties)."
  type        = bool
  default     = true
}

variable "remind_after_seconds" {
  description = "Default reminder interval of a request that gives no remind_after_seconds: while nobody has decided, the sweep reminds the approvers (on the notification topic) after this many seconds and again after each further interval, up to max_reminders times; a reminder comes up to sweep_interval_minutes late. null (default): no reminders unless a request asks for them."
  type        = number
  default     = null

  validation {
    condition     = var.remind_after_seconds == null || (try(var.remind_after_seconds >= 60 && var.remind_after_seconds <= 2592000 && floor(var.remind_after_seconds) == var.remind_after_seconds, false))
    error_message = "remind_after_seconds must be null (no reminders by default) or a whole number of seconds from 60 to 2592000 (30 days)."
  }
}

variable "escalate_after_seconds" {
  description = "Default escalation of a request that gives none: a stage still undecided this many seconds after it started is opened to escalation_approvers too (a second automation; the first decision of either settles the stage, the other request is withdrawn). The sweep starts it, up to sweep_interval_minutes late. Must be shorter than approval_timeout_seconds. null (default): no escalation unless a request asks."
  type        = number
  default     = null

  validation {
    condition     = var.escalate_after_seconds == null || (try(var.escalate_after_seconds >= 60 && var.escalate_after_seconds <= 2592000 && floor(var.escalate_after_seconds) == var.escalate_after_seconds, false))
    error_message = "escalate_after_seconds must be null (no escalation by default) or a whole number of seconds from 60 to 2592000 (30 days)."
  }
}

variable "escalation_approvers" {
  description = "Who a stage escalates to by default (with escalate_after_seconds): 1 to 10 IAM user names, user ARNs, role ARNs or assumed-role ARNs, named as approvers are."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.escalation_approvers) <= 10 && length(distinct(var.escalation_approvers)) == length(var.escalation_approvers) && !anytrue([for principal in var.escalation_approvers : strcontains(principal, ",")])
    error_message = "escalation_approvers must list at most 10 distinct principals, without commas (start_approval receives them comma-separated)."
  }
}

variable "max_reminders" {
  description = "Default bound on the reminders of a request that gives no max_reminders: 0 (none) to 10."
  type        = number
  default     = 3

  validation {
    condition     = var.max_reminders >= 0 && var.max_reminders <= 10 && floor(var.max_reminders) == var.max_reminders
    error_message = "max_reminders must be a whole number from 0 to 10."
  }
}

variable "ssm_api_rate_quotas" {
  description = "The account's SSM API rate quotas (calls per second per account and Region; docs/aws-behaviour.md#ssm-api-rate-quotas) that the functions pace their calls to, by action: every function instance takes its turn through a slot kept in the records table, so a burst runs at the rate instead of into ThrottlingException. Raise one where the account's quota was raised; an action left out is not paced."
  type        = map(number)
  default = {
    StartAutomationExecution         = 1
    StopAutomationExecution          = 1
    GetAutomationExecution           = 3
    DescribeAutomationStepExecutions = 3
    DescribeAutomationExecutions     = 3
  }

  validation {
    condition = alltrue([for action, rate in var.ssm_api_rate_quotas : contains([
      "StartAutomationExecution", "StopAutomationExecution", "GetAutomationExecution",
      "DescribeAutomationStepExecutions", "DescribeAutomationExecutions"
    ], action) && rate > 0 && rate <= 1000])
    error_message = "ssm_api_rate_quotas maps StartAutomationExecution, StopAutomationExecution, GetAutomationExecution, DescribeAutomationStepExecutions or DescribeAutomationExecutions to calls per second above 0 (at most 1000)."
  }
}

variable "ssm_api_rate_share" {
  description = "The share of each of ssm_api_rate_quotas the gate uses (above 0, at most 1): the rest is left to the account's other automations and absorbs the jitter between a slot and its call reaching SSM."
  type        = number
  default     = 0.95

  validation {
    condition     = var.ssm_api_rate_share > 0 && var.ssm_api_rate_share <= 1
    error_message = "ssm_api_rate_share must be above 0 and at most 1 (0.95: 95% of each quota)."
  }
}

variable "start_approval_reserved_concurrency" {
  description = "Concurrency reserved for start_approval, or null for none (the default). A small value also keeps StartAutomationExecution (1 TPS) from being flooded; any reservation needs the account's unreserved concurrency to stay at 100 or more (docs/aws-behaviour.md#lambda-unreserved-concurrency-minimum)."
  type        = number
  default     = null

  validation {
    condition     = var.start_approval_reserved_concurrency == null || try(var.start_approval_reserved_concurrency >= 1 && floor(var.start_approval_reserved_concurrency) == var.start_approval_reserved_concurrency, false)
    error_message = "start_approval_reserved_concurrency must be null (no reservation) or a whole number >= 1 (0 would stop the function)."
  }
}

variable "sweep_reserved_concurrency" {
  description = "Concurrency reserved for the sweep function, or null for none (the default). 1 keeps sweeps from overlapping (they are safe to overlap: every record change is conditional), but any reservation needs the account's unreserved concurrency to stay at 100 or more, which new accounts (total concurrency 10) cannot give (docs/aws-behaviour.md#lambda-unreserved-concurrency-minimum)."
  type        = number
  default     = null

  validation {
    condition     = var.sweep_reserved_concurrency == null || try(var.sweep_reserved_concurrency >= 1 && floor(var.sweep_reserved_concurrency) == var.sweep_reserved_concurrency, false)
    error_message = "sweep_reserved_concurrency must be null (no reservation) or a whole number >= 1 (0 would stop the sweep)."
  }
}

variable "sweep_grace_seconds" {
  description = "How long after its automation ended the sweep leaves an approval to its SSM event, most likely still on its way (EventBridge invokes receive_result asynchronously): the sweep spends no SSM read on it, and SSM's rate stays with the deliveries (SWEEP_GRACE_SECONDS of the sweep function). A lost event is delivered by the first sweep past the grace. 0 reads every finished automation at once."
  type        = number
  default     = 60

  validation {
    condition     = var.sweep_grace_seconds >= 0 && var.sweep_grace_seconds <= 3600 && floor(var.sweep_grace_seconds) == var.sweep_grace_seconds
    error_message = "sweep_grace_seconds must be a whole number of seconds from 0 to 3600."
  }
}

variable "max_queued_seconds" {
  description = "How long an approval's automation may stay Pending, queued by SSM past the account's concurrent-automation quota (nobody is asked meanwhile), before the sweep cancels it and fails its workflow with Approval.NotStarted (MAX_QUEUED_SECONDS of the sweep function; docs/aws-behaviour.md#ssm-automation-concurrency-queue). 0 never cancels; the ApprovalsQueued alarm fires either way."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_queued_seconds == 0 || (var.max_queued_seconds >= 60 && var.max_queued_seconds <= 2592000 && floor(var.max_queued_seconds) == var.max_queued_seconds)
    error_message = "max_queued_seconds must be 0 (never cancel a queued approval) or a whole number of seconds from 60 to 2592000 (30 days, the longest approval)."
  }
}

variable "receive_result_reserved_concurrency" {
  description = "Concurrency reserved for receive_result and for close_approvals (each), or null for none (the default); any reservation needs the account's unreserved concurrency to stay at 100 or more (docs/aws-behaviour.md#lambda-unreserved-concurrency-minimum)."
  type        = number
  default     = null

  validation {
    condition     = var.receive_result_reserved_concurrency == null || try(var.receive_result_reserved_concurrency >= 1 && floor(var.receive_result_reserved_concurrency) == var.receive_result_reserved_concurrency, false)
    error_message = "receive_result_reserved_concurrency must be null (no reservation) or a whole number >= 1 (0 would stop the function)."
  }
}

variable "log_level" {
  description = "Log level of both functions (POWERTOOLS_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch metrics namespace of both functions (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "ApprovalGate"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.#:/-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1 to 255 characters (letters, digits, . _ - / # :) and must not start with AWS/."
  }
}

################################################################################
# Records table
################################################################################

variable "table_deletion_protection" {
  description = "Whether the approval records table is protected against deletion (set false before `terraform destroy`)."
  type        = bool
  default     = false
}

################################################################################
# State machine
################################################################################

variable "state_machine_name" {
  description = "Name of the Standard state machine. Defaults to `<name_prefix>`."
  type        = string
  default     = null

  validation {
    condition     = var.state_machine_name == null || can(regex("^[A-Za-z0-9_-]{1,80}$", coalesce(var.state_machine_name, "-")))
    error_message = "state_machine_name must be 1 to 80 characters: letters, digits, hyphens and underscores."
  }
}

variable "state_machine_log_level" {
  description = "Step Functions logging level: ALL (every event, as the original stack), ERROR, FATAL or OFF."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.state_machine_log_level)
    error_message = "state_machine_log_level must be ALL, ERROR, FATAL or OFF."
  }
}

variable "state_machine_log_execution_data" {
  description = "Whether the state machine's logs include execution data (inputs, outputs, parameters). Off by default: the Task's parameters carry the task token, which must not reach logs."
  type        = bool
  default     = false
}

################################################################################
# Logs and encryption
################################################################################

variable "log_retention_in_days" {
  description = "Retention of every log group of the module, in days (a value CloudWatch Logs accepts; 0 keeps logs forever)."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "create_kms_key" {
  description = "Whether the module creates the customer managed KMS key that encrypts the topic, queue, table, log groups and function environments. If false, pass kms_key_arn."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of an existing KMS key to use when create_kms_key is false. Its key policy must let logs.<region>.amazonaws.com (log groups) and events.amazonaws.com (dead-letter queue) use it, and delegate to IAM for the account."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", coalesce(var.kms_key_arn, "-")))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the created KMS key is deleted after `terraform destroy` (7 to 30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30 && floor(var.kms_key_deletion_window_in_days) == var.kms_key_deletion_window_in_days
    error_message = "kms_key_deletion_window_in_days must be a whole number from 7 to 30."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm of the gate fires and when it is OK again (an SNS topic of the operators, say): approval results in the dead-letter queue, failed notifications to the approvers, approvals queued by SSM. Empty: the alarms only show in CloudWatch."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_actions : can(regex("^arn:aws[a-z-]*:", arn))])
    error_message = "alarm_actions must be ARNs (arn:aws:sns:<region>:<account>:<topic>, say)."
  }
}
