# terraform test (Terraform >= 1.7): plans the module against a mock AWS provider, so it
# needs no account and no network. Run from the module folder: `terraform test`.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      id   = "eu-west-1"
      name = "eu-west-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  manifest_path = "tests/fixtures/manifest.json"
  service_name  = "start_approval"
  function_name = "gate-start-approval"
  environment_variables = {
    APPROVALS_TABLE_NAME = "gate-approvals"
  }
}

run "function_from_manifest" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.handler == "start_approval.handler.lambda_handler"
    error_message = "The handler must come from the manifest."
  }
  assert {
    condition     = aws_lambda_function.this.runtime == "python3.12" && aws_lambda_function.this.architectures[0] == "x86_64"
    error_message = "Runtime and architecture must come from the manifest."
  }
  assert {
    condition     = aws_lambda_function.this.source_code_hash == "gIvWAB00wK+zmawJya8LLfBTO+hQ8WLi51XHbxVtc/0="
    error_message = "source_code_hash must be the manifest's."
  }
  assert {
    condition     = aws_lambda_function.this.filename == "tests/fixtures/start_approval-0.1.0.zip"
    error_message = "The zip must be read beside the manifest."
  }
  assert {
    condition     = aws_lambda_function.this.publish && aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "The function must publish versions and trace actively."
  }
  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      APPROVALS_TABLE_NAME         = "gate-approvals"
      POWERTOOLS_SERVICE_NAME      = "start_approval"
      POWERTOOLS_METRICS_NAMESPACE = "ApprovalGate"
      POWERTOOLS_LOG_LEVEL         = "INFO"
      SERVICE_VERSION              = "0.1.0"
    })
    error_message = "The environment must hold the service's variables and the Powertools ones."
  }
  assert {
    condition     = aws_lambda_function.this.tags["ServiceVersion"] == "0.1.0" && !contains(keys(aws_iam_role.this.tags), "ServiceVersion")
    error_message = "Only the function carries the service version."
  }
  assert {
    condition     = aws_lambda_alias.this.name == "live"
    error_message = "The alias is `live` by default."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/gate-start-approval" && aws_cloudwatch_log_group.this.retention_in_days == 365
    error_message = "The function logs to its own log group, kept a year by default."
  }
  assert {
    condition     = aws_iam_role.this.name == "gate-start-approval-eu-west-1"
    error_message = "The role is named after the function and the region."
  }
}

run "missing_manifest_says_make_package" {
  command = plan

  variables {
    manifest_path = "tests/fixtures/absent/manifest.json"
  }

  expect_failures = [aws_lambda_function.this]
}

run "missing_service_fails" {
  command = plan

  variables {
    service_name = "not_built"
  }

  expect_failures = [aws_lambda_function.this]
}

run "stale_zip_fails" {
  command = plan

  variables {
    manifest_path = "tests/fixtures/stale_manifest.json"
  }

  expect_failures = [aws_lambda_function.this]
}

run "reserved_environment_names_refused" {
  command = plan

  variables {
    environment_variables = { POWERTOOLS_LOG_LEVEL = "DEBUG" }
  }

  expect_failures = [var.environment_variables]
}

run "bad_policy_json_refused" {
  command = plan

  variables {
    policy_json = "not json"
  }

  expect_failures = [var.policy_json]
}
