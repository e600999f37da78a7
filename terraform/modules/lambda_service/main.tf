data "aws_region" "current" {}

locals {
  # The manifest is read at plan time. A missing manifest or service does not fail here:
  # the preconditions on the function say what to do (run `make package`).
  manifest_found = fileexists(var.manifest_path)
  manifest       = local.manifest_found ? try(jsondecode(file(var.manifest_path)), null) : null
  service        = try(local.manifest.services[var.service_name], null)
  manifest_valid = local.manifest != null && try(local.manifest.schema_version == 1, false)
  service_found  = local.manifest_valid && local.service != null

  artifact_dir = dirname(var.manifest_path)
  zip_path     = try("${local.artifact_dir}/${local.service.zip}", null)

  version = try(local.service.version, null)
  # The service's entry point from the manifest, unless this function uses another one.
  handler      = var.handler != null ? var.handler : try(local.service.handler, null)
  runtime      = try(coalesce(try(local.service.runtime, null), try(local.manifest.runtime, null)), null)
  architecture = try(coalesce(try(local.service.architecture, null), try(local.manifest.architecture, null)), "x86_64")

  service_complete = local.service_found && local.runtime != null && alltrue([
    for key in ["version", "zip", "handler", "source_code_hash"] : try(length(local.service[key]) > 0, false)
  ])
  zip_found = local.service_complete && try(fileexists(local.zip_path), false)

  role_name      = coalesce(var.role_name, substr("${var.function_name}-${data.aws_region.current.id}", 0, 64))
  log_group_name = "/aws/lambda/${var.function_name}"

  tags = merge(var.tags, { Service = var.service_name })
  # The version tags the function only, so a release changes nothing else of the service.
  function_tags = merge(local.tags, { ServiceVersion = coalesce(local.version, "unknown") })

  environment = merge(var.environment_variables, {
    POWERTOOLS_SERVICE_NAME      = var.service_name
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
    SERVICE_VERSION              = coalesce(local.version, "unknown")
  })

  make_package_hint = "Run `make package` at the repository root to build the service zips and ${var.manifest_path}."
}

################################################################################
# Role: least privilege, its own
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssume"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = local.role_name
  description          = "Execution role of the ${var.service_name} Lambda function ${var.function_name}."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = local.tags
}

# One inline policy: the runtime's needs plus the service's own statements (policy_json).
# Merging (rather than a second, counted policy) keeps the plan valid while policy_json
# is still unknown.
data "aws_iam_policy_document" "this" {
  source_policy_documents = var.policy_json == null ? [] : [var.policy_json]

  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    # X-Ray has no resource types for these actions: AWS requires "*".
    sid       = "WriteTraces"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.environment_kms_key_arn == null ? [] : [var.environment_kms_key_arn]
    content {
      sid       = "DecryptEnvironment"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.dead_letter_target_arn == null ? [] : [var.dead_letter_target_arn]
    content {
      sid       = "SendToDeadLetterTarget"
      effect    = "Allow"
      actions   = [startswith(split(":", statement.value)[2], "sqs") ? "sqs:SendMessage" : "sns:Publish"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.service_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

################################################################################
# Logs
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = local.tags
}

################################################################################
# Function, published version and alias
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The functions only call AWS APIs; running them in a VPC would add NAT or endpoints for no gain.
  #checkov:skip=CKV_AWS_116:A dead-letter target is optional (dead_letter_target_arn): it only applies to asynchronously invoked functions.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (reserved_concurrent_executions): reserving by default would take from the account's pool.
  #checkov:skip=CKV_AWS_272:Code signing is optional (code_signing_config_arn); zips are reproducible and pinned by source_code_hash.
  function_name = var.function_name
  description   = coalesce(var.description, "${var.service_name} ${coalesce(local.version, "unknown")}")
  role          = aws_iam_role.this.arn

  filename         = local.zip_path
  source_code_hash = try(local.service.source_code_hash, null)
  handler          = local.handler
  runtime          = local.runtime
  architectures    = [local.architecture]
  publish          = true

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.environment_kms_key_arn
  code_signing_config_arn        = var.code_signing_config_arn

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  dynamic "dead_letter_config" {
    for_each = var.dead_letter_target_arn == null ? [] : [var.dead_letter_target_arn]
    content {
      target_arn = dead_letter_config.value
    }
  }

  tags = local.function_tags

  # Checked in order: each check only speaks once the previous one holds, so a missing
  # manifest gives one error, not seven.
  lifecycle {
    precondition {
      condition     = local.manifest_found
      error_message = "Build manifest ${var.manifest_path} not found. ${local.make_package_hint}"
    }
    precondition {
      condition     = !local.manifest_found || local.manifest_valid
      error_message = "Build manifest ${var.manifest_path} is not valid JSON with schema_version 1. ${local.make_package_hint}"
    }
    precondition {
      condition     = !local.manifest_valid || local.service_found
      error_message = "Service ${var.service_name} is not in ${var.manifest_path}. ${local.make_package_hint}"
    }
    precondition {
      condition     = !local.service_found || local.service_complete
      error_message = "Service ${var.service_name} in ${var.manifest_path} lacks version, zip, handler, source_code_hash or runtime. ${local.make_package_hint}"
    }
    precondition {
      condition     = !local.service_complete || local.zip_found
      error_message = "${coalesce(local.zip_path, "The zip")} (service ${var.service_name}, named by ${var.manifest_path}) does not exist. ${local.make_package_hint}"
    }
    precondition {
      # A zip rebuilt without its manifest (or the reverse) would deploy code that
      # source_code_hash does not describe.
      condition     = !local.zip_found || try(filebase64sha256(local.zip_path) == local.service.source_code_hash, false)
      error_message = "${coalesce(local.zip_path, "The zip")} does not match source_code_hash in ${var.manifest_path}. ${local.make_package_hint}"
    }
    precondition {
      condition     = !local.service_complete || contains(["x86_64", "arm64"], local.architecture)
      error_message = "Architecture ${local.architecture} of ${var.service_name} in ${var.manifest_path} is not x86_64 or arm64. ${local.make_package_hint}"
    }
  }

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}

resource "aws_lambda_alias" "this" {
  name             = var.alias_name
  description      = "${var.service_name} ${coalesce(local.version, "unknown")}"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}
