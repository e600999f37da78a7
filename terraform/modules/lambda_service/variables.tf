################################################################################
# Build artifact
################################################################################

variable "manifest_path" {
  description = "Path of the build manifest written by `make package` (`dist/manifest.json`). Relative paths are relative to the directory Terraform runs in (the root module). The service's zip is read from the manifest's folder."
  type        = string

  validation {
    condition     = endswith(var.manifest_path, ".json")
    error_message = "manifest_path must point at the build manifest (a .json file, normally dist/manifest.json written by `make package`)."
  }
}

variable "service_name" {
  description = "Name of the service in the manifest's `services` map (e.g. `start_approval`). Also the Powertools service name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.service_name))
    error_message = "service_name must be a lower-case Python package name: letters, digits and underscores, starting with a letter (at most 63 characters)."
  }
}

################################################################################
# Function
################################################################################

variable "function_name" {
  description = "Name of the Lambda function (also names its log group `/aws/lambda/<name>`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1 to 64 characters: letters, digits, hyphens and underscores."
  }
}

variable "handler" {
  description = "Entry point of this function inside the service's zip (module.function), when it is not the service's default handler from the manifest: one service can run several functions, released together."
  type        = string
  default     = null

  validation {
    condition     = var.handler == null || can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", var.handler))
    error_message = "handler must be a dotted Python path such as receive_result.handler.sweep_handler."
  }
}

variable "description" {
  description = "Description of the function. Defaults to the service name and version."
  type        = string
  default     = null

  validation {
    condition     = var.description == null || length(coalesce(var.description, "-")) <= 256
    error_message = "description must be at most 256 characters."
  }
}

variable "environment_variables" {
  description = "The service's own environment variables. The module adds POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL and SERVICE_VERSION."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for key in keys(var.environment_variables) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", key)) && !startswith(key, "AWS_")
    ])
    error_message = "Environment variable names must start with a letter, contain only letters, digits and underscores, and not start with AWS_ (reserved by Lambda)."
  }

  validation {
    condition = length(setintersection(keys(var.environment_variables), [
      "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL", "SERVICE_VERSION",
    ])) == 0
    error_message = "POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL and SERVICE_VERSION are set by the module: use the service_name, metrics_namespace and log_level variables."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch metrics namespace of the service (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "ApprovalGate"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.#:/-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1 to 255 characters (letters, digits, . _ - / # :) and must not start with AWS/."
  }
}

variable "log_level" {
  description = "Log level of the service (POWERTOOLS_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (128 to 10240)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Timeout of one invocation, in seconds (1 to 900)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the function (0 stops it). null leaves it unreserved (the account's pool)."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null || (try(var.reserved_concurrent_executions >= 0 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions, false))
    error_message = "reserved_concurrent_executions must be null or a whole number >= 0."
  }
}

variable "alias_name" {
  description = "Name of the alias that points at the published version. Callers (state machine, event rule) invoke the alias, never $LATEST."
  type        = string
  default     = "live"

  validation {
    condition     = can(regex("^[A-Za-z_-][A-Za-z0-9_-]{0,127}$", var.alias_name)) && var.alias_name != "$LATEST"
    error_message = "alias_name must be 1 to 128 characters (letters, digits, hyphens, underscores), must not start with a digit and must not be $LATEST."
  }
}

variable "environment_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the function's environment variables. null uses the AWS managed key. The function's role is granted kms:Decrypt on it."
  type        = string
  default     = null

  validation {
    condition     = var.environment_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.environment_kms_key_arn))
    error_message = "environment_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "dead_letter_target_arn" {
  description = "SQS queue or SNS topic ARN that receives asynchronous invocations which failed all retries. Only meaningful for a function invoked asynchronously (e.g. by EventBridge). The role is granted sqs:SendMessage or sns:Publish on it; grant the queue's KMS key through policy_json."
  type        = string
  default     = null

  validation {
    condition     = var.dead_letter_target_arn == null || can(regex("^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:[0-9]{12}:.+$", var.dead_letter_target_arn))
    error_message = "dead_letter_target_arn must be an SQS queue or SNS topic ARN."
  }
}

variable "code_signing_config_arn" {
  description = "ARN of a Lambda code signing configuration to enforce, or null."
  type        = string
  default     = null

  validation {
    condition     = var.code_signing_config_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]{17}$", var.code_signing_config_arn))
    error_message = "code_signing_config_arn must be a Lambda code signing configuration ARN."
  }
}

################################################################################
# Role and logs
################################################################################

variable "policy_json" {
  description = "IAM policy document (JSON) with the service's own permissions, attached inline to its role. Merged with what the module adds (logging to its own log group, X-Ray, the environment key, the dead-letter target) into one inline policy. Statement ids must not repeat the module's: WriteOwnLogs, WriteTraces, DecryptEnvironment, SendToDeadLetterTarget."
  type        = string
  default     = null

  validation {
    condition     = var.policy_json == null || can(jsondecode(var.policy_json).Statement)
    error_message = "policy_json must be a JSON IAM policy document with a Statement (e.g. data.aws_iam_policy_document.x.json)."
  }
}

variable "role_name" {
  description = "Name of the function's IAM role. Defaults to `<function_name>-<region>` (IAM is global: the region keeps deployments in several regions apart), cut to 64 characters."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", coalesce(var.role_name, "-")))
    error_message = "role_name must be 1 to 64 characters: letters, digits and + = , . @ _ -."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of a managed policy to set as the role's permissions boundary, or null."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.role_permissions_boundary))
    error_message = "role_permissions_boundary must be an IAM policy ARN."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group, in days (a value CloudWatch Logs accepts; 0 keeps logs forever)."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the log group. Its key policy must let logs.<region>.amazonaws.com use it. null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
