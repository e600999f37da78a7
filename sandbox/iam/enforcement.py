"""IAM for every request the local AWS receives, and for the calls AWS services make.

Requests (``install()``): moto's responses call ``_authenticate_and_authorize_normal_action``
before every action; the hook here checks the caller's key and signature with moto's own
``IAMRequest`` (an unknown key is refused, as in AWS), builds the request's resource ARNs
(``sandbox.iam.resources``) and decides with AWS's logic (``sandbox.iam.authorizer``).
A refusal is AWS's error: ``AccessDeniedException`` (JSON APIs) or ``AccessDenied`` (query
APIs), with AWS's message (docs/aws-behaviour.md#iam-access-denied-errors).

Service calls (``authorize_service``, ``authorize_role``): what an AWS service does for a
deployed part — EventBridge invoking a function or writing to a dead-letter queue, Lambda
writing to a function's dead-letter queue with its execution role, SSM publishing the
approval request with the automation's role — is decided the same way, with the service
principal or the role session as the caller.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import (
    InvalidClientTokenIdError,
    JsonRESTError,
    SignatureDoesNotMatchError,
    _RESTError,
)
from moto.utilities.utils import get_partition

from sandbox.iam import admin, resource_policies
from sandbox.iam.authorizer import Denial, decide
from sandbox.iam.definitions import canonical_action, is_known_action
from sandbox.iam.policies import Caller
from sandbox.iam.resources import resources_of

_log = logging.getLogger(__name__)

# Signing names that differ from the IAM action prefix.
_PREFIX_OF_SIGNING_NAME = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
# APIs whose errors are XML (query protocol): their code is AccessDenied, status 403.
_QUERY_APIS = frozenset({"iam", "sts", "sns", "cloudwatch", "ec2", "s3"})
# API operations whose IAM action is named otherwise (the Service Authorization Reference).
_ACTION_OF_OPERATION = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
}
# Creating calls that take Tags -> the tagging action they also need.
_TAGS_ON_CREATE = {"ssm:StartAutomationExecution": "ssm:AddTagsToResource"}
# Actions every authenticated caller may make (AWS: no policy can deny them).
_ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})
# Parameters that pass a role to a service: (action) -> (parameter path, service).
_PASSED_ROLES = {
    "ssm:StartAutomationExecution": (("Parameters", "AutomationAssumeRole"), "ssm.amazonaws.com"),
    "lambda:CreateFunction": (("Role",), "lambda.amazonaws.com"),
    "lambda:UpdateFunctionConfiguration": (("Role",), "lambda.amazonaws.com"),
    "states:CreateStateMachine": (("roleArn",), "states.amazonaws.com"),
    "states:UpdateStateMachine": (("roleArn",), "states.amazonaws.com"),
}


@dataclass
class IamSettings:
    # On in the local AWS (LocalAws, `make sandbox`, `make demo`); off in-process by default.
    enforce: bool = False
    # Every refusal, for tests and `GET /moto-api/sandbox/iam/denials`.
    record_denials: bool = True


iam_settings = IamSettings()
_denials: list[dict[str, str]] = []
_denials_lock = threading.Lock()


class AccessDenied(Exception):
    """A service call refused by IAM (in-process; the HTTP path raises moto's errors)."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(denial.message)
        self.denial = denial
        self.code = "AccessDeniedException"
        self.message = denial.message


def denials() -> list[dict[str, str]]:
    with _denials_lock:
        return list(_denials)


def clear_denials() -> None:
    with _denials_lock:
        _denials.clear()


def _record(denial: Denial) -> None:
    _log.info("IAM denied: %s", denial.message)
    if iam_settings.record_denials:
        with _denials_lock:
            _denials.append(
                {
                    "principal": denial.caller.arn,
                    "action": denial.action,
                    "resource": denial.resource,
                    "message": denial.message,
                }
            )


def base_context(caller: Caller, region: str) -> dict[str, list[str]]:
    """Global condition keys of a request (lower-case names). aws:SecureTransport is true:
    AWS's endpoints are HTTPS, the local endpoint stands in for them."""
    context = {
        "aws:securetransport": ["true"],
        "aws:requestedregion": [region],
        "aws:principalaccount": [caller.account_id],
        "aws:sourceip": ["127.0.0.1"],
    }
    if caller.is_service:
        context["aws:principalservicename"] = [caller.arn]
    else:
        context["aws:principalarn"] = [caller.role_arn or caller.arn]
        context["aws:principaltype"] = ["User" if caller.kind == "user" else "AssumedRole"]
        if caller.kind == "user":
            context["aws:username"] = [caller.arn.rsplit("/", 1)[-1]]
    return context


def check(
    caller: Caller,
    action: str,
    resources: list[str],
    context: dict[str, list[str]],
) -> Denial | None:
    """The first refusal among ``resources``, else None."""
    action = canonical_action(action)
    if action in _ALWAYS_ALLOWED:
        return None
    for resource in resources:
        policy, is_key = resource_policies.policy_of(resource)
        denial = decide(caller, action, resource, context, policy, key_policy=is_key)
        if denial is not None:
            _record(denial)
            return denial
    return None


# --- service calls ------------------------------------------------------------------------


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
    if not iam_settings.enforce:
        return
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


def authorize_role(caller: Caller, action: str, resource: str, *, region: str) -> None:
    """A role session (a function's execution role, the automation's role) acting through a
    service. Raises AccessDenied."""
    if not iam_settings.enforce:
        return
    denial = check(caller, action, [resource], base_context(caller, region))
    if denial is not None:
        raise AccessDenied(denial)


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


# --- requests -----------------------------------------------------------------------------


def _request_parameters(response: Any) -> dict[str, Any]:
    body = response.body
    if isinstance(body, dict):  # moto's DynamoDB has parsed it already
        return {**(response.querystring or {}), **body}
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    params: dict[str, Any] = {}
    for name, values in (response.querystring or {}).items():
        params[name] = values
    if body and body.lstrip().startswith("{"):
        try:
            loaded = json.loads(body)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            params.update(loaded)
    return params


def _nested(params: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    value: Any = params
    for name in path:
        if isinstance(value, Mapping):
            value = value.get(name)
        else:
            return None
        if value is None:
            # Query-protocol form keys (Parameters.entry.1.key) are not needed by the gate.
            return None
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _access_denied(prefix: str, json_request: bool, denial: Denial) -> Exception:
    if prefix in _QUERY_APIS and not json_request:
        # SNS names it AuthorizationError (docs/aws-behaviour.md#iam-access-denied-errors).
        error = _RESTError(
            "AuthorizationError" if prefix == "sns" else "AccessDenied", denial.message
        )
        error.code = 403
        return error
    code = "AccessDenied" if prefix == "sqs" else "AccessDeniedException"
    error = JsonRESTError(code, denial.message)
    error.code = 403 if prefix in ("lambda", "sqs") else 400
    return error


def _caller_of(access_key: Any) -> Caller:
    arn = access_key.arn
    account_id = arn.split(":")[4]
    if ":assumed-role/" in arn:
        _, _, rest = arn.partition(":assumed-role/")
        role_name = rest.split("/", 1)[0]
        from moto.iam.models import iam_backends

        role = iam_backends[account_id][get_partition("us-east-1")].get_role(role_name)
        return Caller(arn=arn, account_id=account_id, kind="assumed-role", role_arn=role.arn)
    return Caller(arn=arn, account_id=account_id, kind="user")


def _signed_request(response: Any, action_name: str, path: str, headers: Any) -> Any:
    """moto's IAMRequest: the key must be known (a user's or a role session's, with its
    session token). The signature is not recomputed: moto's SigV4 check disagrees with the
    Go SDK's (Terraform's) signing of some REST paths, and the gate's fidelity is about
    authorisation, not signing (sandbox/LOCAL_AWS.md, "IAM")."""
    from moto.iam.access_control import IAMRequest

    query = f"?{response.uri.split('?', 1)[1]}" if "?" in response.uri else ""
    request = IAMRequest(
        account_id=response.current_account,
        method=response.method,
        path=path + query,
        data=response.data,
        body=response.raw_body,
        headers=headers,
        action=action_name,
    )
    return request


def _authorize_request(self: Any, resource: str = "*") -> None:
    if not iam_settings.enforce:
        return
    headers = self.headers
    authorization = headers.get("Authorization") or ""
    if "Credential=" not in authorization:
        raise JsonRESTError("MissingAuthenticationTokenException", "Missing Authentication Token")
    credential = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    access_key, region, signing_name = credential[0], credential[2], credential[3]
    if access_key == admin.ACCESS_KEY:
        admin.ensure(self.current_account)
    action_name = self._get_action()
    path = self.raw_path if hasattr(self, "raw_path") else self.path
    json_request = (
        "json" in (headers.get("Content-Type") or "")
        or bool(headers.get("X-Amz-Target"))
        or signing_name in ("lambda", "xray")
    )
    try:
        request = _signed_request(self, action_name, path, headers)
    except (InvalidClientTokenIdError, SignatureDoesNotMatchError) as error:
        if not json_request:
            raise
        # JSON APIs answer these in JSON, under their own codes.
        code = (
            "UnrecognizedClientException"
            if isinstance(error, InvalidClientTokenIdError)
            else "InvalidSignatureException"
        )
        raise JsonRESTError(code, error.message) from error
    caller = _caller_of(request._access_key)
    prefix = _PREFIX_OF_SIGNING_NAME.get(signing_name, signing_name)
    operation = f"{prefix}:{action_name}"
    action = canonical_action(_ACTION_OF_OPERATION.get(operation, operation))
    if action in _ALWAYS_ALLOWED:
        return
    if not is_known_action(action):
        _log.warning("IAM: %s is not an action of the Service Authorization data", action)
    params = _request_parameters(self)
    partition = get_partition(region)
    arns = resources_of(
        action,
        resource_policies.resolved_parameters(prefix, params, caller.account_id, region),
        path,
        partition=partition,
        region=region,
        account=caller.account_id,
    )
    context = base_context(caller, region)
    denial = check(caller, action, arns, context)
    if denial is None and action in _PASSED_ROLES:
        param_path, service = _PASSED_ROLES[action]
        role_arn = _nested(params, param_path)
        if role_arn:
            passing = dict(context)
            passing["iam:passedtoservice"] = [service]
            denial = check(caller, "iam:PassRole", [role_arn], passing)
    if denial is None and action in _TAGS_ON_CREATE and params.get("Tags"):
        # Whether tagging on start also needs the tagging action is not documented for
        # automations (it is for other SSM resources): the stricter answer
        # (docs/aws-behaviour.md#ssm-automation-tags).
        denial = check(caller, _TAGS_ON_CREATE[action], arns[:1], context)
    if denial is not None:
        raise _access_denied(prefix, json_request, denial)


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Route moto's authorization hook of every response class here (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.core.authorization import ActionAuthenticatorMixin

        ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _authorize_request  # type: ignore[method-assign]
        _installed = True
