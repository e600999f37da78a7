variable "region" {
  description = "AWS Region to deploy the approval gate in."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS Region code such as eu-west-1 or ap-northeast-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "approval-gate"
}

variable "manifest_path" {
  description = "Build manifest written by `make package`, relative to this folder."
  type        = string
  default     = "../../../dist/manifest.json"
}

variable "notification_emails" {
  description = "E-mail addresses that receive the approval requests (each must confirm the SNS subscription)."
  type        = list(string)
  default     = []
}

variable "approvers" {
  description = "Default approvers: 1 to 10 IAM user names or IAM user, role or assumed-role ARNs."
  type        = list(string)
}

variable "min_required_approvals" {
  description = "Default number of approvals needed (1 to the number of approvers)."
  type        = number
  default     = 1
}

variable "approval_timeout_seconds" {
  description = "Timeout of the approval in seconds (at most 30 days)."
  type        = number
  default     = 604800
}

variable "event_rule_state" {
  description = "ENABLED or DISABLED: whether approval results are delivered."
  type        = string
  default     = "ENABLED"
}

variable "tags" {
  description = "Tags for every resource (provider default_tags)."
  type        = map(string)
  default = {
    Project = "approval-gate"
  }
}

variable "sweep_interval_minutes" {
  description = "How often the sweep delivers decisions whose SSM event was lost (minutes)."
  type        = number
  default     = 5
}

variable "client_state_machine_arns" {
  description = "Your own state machines that call start_approval: their ended executions close their approvals too."
  type        = list(string)
  default     = []
}
