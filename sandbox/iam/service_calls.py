"""What AWS services do for a deployed part, under IAM: EventBridge invoking a function or
writing to a dead-letter queue, Lambda acting with a function's execution role, Step Functions
with the state machine's role, SSM publishing the approval request with the automation's role.
The caller is the service principal (allowed only by a resource policy) or the role session,
which the service gets by the role's trust policy. Each raises ``AccessDenied``.
``authorize`` also counts the call (``sandbox.core.call_counts``), refused or not.
"""

from __future__ import annotations

import logging

from moto.utilities.utils import get_partition

from sandbox.core import call_counts
from sandbox.iam import resource_policies
from sandbox.iam.enforcement import AccessDenied, base_context, check, iam_settings
from sandbox.iam.policies import Caller

_log = logging.getLogger(__name__)
# Calls not counted: Lambda delivering a function's log lines (CloudWatch Logs bills the bytes
# ingested, not calls; bench/cost measures them).
_UNCOUNTED_PREFIXES = ("logs:",)
# IAM actions counted under the API operation a request would name (the request hook's names).
_OPERATION_OF_ACTION = {"lambda:InvokeFunction": "lambda:Invoke"}


def service_caller(service: str, account_id: str) -> Caller:
    return Caller(arn=service, account_id=account_id, kind="service")


def authorize(
    caller: Caller,
    action: str,
    resource: str,
    *,
    region: str,
    source_arn: str | None = None,
) -> None:
    """``caller`` (a service principal acting for a resource of the account, ``source_arn``,
    or a role session acting through a service) may do ``action``? Raises AccessDenied."""
    if not action.startswith(_UNCOUNTED_PREFIXES):
        service, _, operation = _OPERATION_OF_ACTION.get(action, action).partition(":")
        call_counts.record(caller.role_arn or caller.arn, service, operation)
    if not iam_settings.enforce:
        return
    context = base_context(caller, region)
    if caller.is_service:
        context["aws:sourceaccount"] = [caller.account_id]
    if source_arn:
        context["aws:sourcearn"] = [source_arn]
    denial = check(caller, action, [resource], context)
    if denial is not None:
        raise AccessDenied(denial)


def authorize_send(
    caller: Caller, target_arn: str, *, region: str, source_arn: str | None = None
) -> None:
    """A message to an SQS queue or SNS topic: SendMessage/Publish, and the target's KMS key
    when it is encrypted (docs/aws-behaviour.md#sqs-queue-policy-eventbridge-dlq)."""
    service = target_arn.split(":")[2]
    action = "sqs:SendMessage" if service == "sqs" else "sns:Publish"
    authorize(caller, action, target_arn, region=region, source_arn=source_arn)
    key_arn = resource_policies.encryption_key_of(target_arn)
    if key_arn:
        for key_action in ("kms:GenerateDataKey", "kms:Decrypt"):
            authorize(caller, key_action, key_arn, region=region, source_arn=source_arn)


def role_session(role_arn: str, session_name: str) -> Caller:
    account_id = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[-1]
    return Caller(
        arn=f"arn:{role_arn.split(':')[1]}:sts::{account_id}:assumed-role/{role_name}/{session_name}",
        account_id=account_id,
        kind="assumed-role",
        role_arn=role_arn,
    )


def assume_role_as_service(
    role_arn: str,
    service: str,
    *,
    region: str,
    session_name: str,
    source_arn: str | None = None,
) -> Caller:
    """``service`` assumes ``role_arn``: its trust policy must allow the service, with the
    confused-deputy keys the service sets. Raises AccessDenied
    (docs/aws-behaviour.md#ssm-automation-assume-role)."""
    account_id = role_arn.split(":")[4]
    if iam_settings.enforce:
        caller = service_caller(service, account_id)
        context = base_context(caller, region)
        context["aws:sourceaccount"] = [account_id]
        if source_arn:
            context["aws:sourcearn"] = [source_arn]
        denial = check(caller, "sts:AssumeRole", [role_arn], context)
        if denial is not None:
            raise AccessDenied(denial)
    return role_session(role_arn, session_name)


def session_credentials(
    role_arn: str,
    service: str,
    *,
    region: str,
    session_name: str,
    source_arn: str | None = None,
) -> dict[str, str] | None:
    """Keys of a session of ``role_arn`` as ``service`` gets them (moto STS), after its trust
    policy allowed the service; None when it does not (the caller's calls then fail as
    an unknown key's would)."""
    from moto.sts.models import sts_backends

    try:
        assume_role_as_service(
            role_arn, service, region=region, session_name=session_name, source_arn=source_arn
        )
    except AccessDenied as denied:
        _log.warning("%s cannot assume %s: %s", service, role_arn, denied.message)
        return None
    account_id = role_arn.split(":")[4]
    assumed = sts_backends[account_id][get_partition(region)].assume_role(
        region_name=region,
        role_session_name=session_name[:64],
        role_arn=role_arn,
        policy="",
        duration=43200,
        external_id="",
    )
    return {
        "AWS_ACCESS_KEY_ID": assumed.access_key_id,
        "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
        "AWS_SESSION_TOKEN": assumed.session_token,
    }
