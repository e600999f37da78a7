terraform {
  # 1.5: check blocks; preconditions and optional() object attributes need 1.3.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.27, < 7.0"
    }
  }
}
