output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function (unqualified)."
  value       = aws_lambda_function.this.arn
}

output "function_version" {
  description = "Version published by this deployment (the alias points at it)."
  value       = aws_lambda_function.this.version
}

output "alias_name" {
  description = "Name of the alias that callers invoke."
  value       = aws_lambda_alias.this.name
}

output "alias_arn" {
  description = "ARN of the alias (the qualified ARN callers invoke)."
  value       = aws_lambda_alias.this.arn
}

output "alias_invoke_arn" {
  description = "Invoke ARN of the alias (for API Gateway integrations)."
  value       = aws_lambda_alias.this.invoke_arn
}

output "service_version" {
  description = "Version of the service, from the build manifest."
  value       = local.version
}

output "source_code_hash" {
  description = "Base64 SHA-256 of the deployed zip, from the build manifest."
  value       = try(local.service.source_code_hash, null)
}

output "role_name" {
  description = "Name of the function's IAM role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.arn
}
