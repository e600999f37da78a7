variable "access_key" {
  description = "Access key of the local AWS's deployer (an IAM user allowed everything there; sandbox/iam/admin.py). Not an AWS key."
  type        = string
  default     = "LOCALADMINKEY0000000"
}

variable "secret_key" {
  description = "Secret key of the local AWS's deployer (sandbox/iam/admin.py). Not an AWS secret."
  type        = string
  default     = "local-admin"
  sensitive   = true
}

variable "endpoint" {
  description = "URL of the local AWS (the sandbox: moto server extended by sandbox/), used for every service."
  type        = string
  default     = "http://127.0.0.1:5000"

  validation {
    condition     = can(regex("^https?://[^/]+/?$", var.endpoint))
    error_message = "endpoint must be a URL such as http://127.0.0.1:5000 (scheme, host and port, no path)."
  }
}

variable "region" {
  description = "Region the local AWS pretends to be."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS Region code such as us-east-1."
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
  description = "E-mail addresses subscribed to the notification topic (nothing is sent locally)."
  type        = list(string)
  default     = ["approver@example.com"]
}

variable "approvers" {
  description = "Default approvers: 1 to 10 IAM user names or IAM user, role or assumed-role ARNs (moto's account is 123456789012)."
  type        = list(string)
  default     = ["arn:aws:iam::123456789012:role/approver"]
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

variable "sweep_interval_minutes" {
  description = "How often the sweep delivers decisions whose SSM event was lost (minutes)."
  type        = number
  default     = 1
}

variable "event_rule_state" {
  description = "ENABLED or DISABLED: whether approval results are delivered."
  type        = string
  default     = "ENABLED"
}

variable "client_state_machine_arns" {
  description = "Your own state machines that call start_approval: their ended executions close their approvals too."
  type        = list(string)
  default     = []
}
