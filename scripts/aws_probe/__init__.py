"""`make verify-aws`: what a real AWS account does where AWS's documentation is silent.

- `variants`: the local AWS's settings for undocumented behaviour, and how each is read from
  what an account showed;
- `deployment`: the deployed gate's Terraform outputs and the checks before anything runs;
- `gate`: the deployed gate driven as a user would (Step Functions, SSM signals);
- `approvers`: short-lived IAM roles that approve, deleted at the end;
- `scenarios`: the approvals the probe runs, each returning raw evidence;
- `report`: evidence -> variants -> the JSON report and the local AWS's matching settings.
"""
