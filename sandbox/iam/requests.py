"""IAM for every request the local AWS receives.

moto's responses call ``_authenticate_and_authorize_normal_action`` before every action;
``install()`` routes it here. The caller's key must be one the local AWS knows (moto's own
``IAMRequest``: an unknown key is refused, as in AWS); the request's resource ARNs are built
(``sandbox.iam.resources``) and decided with AWS's logic (``sandbox.iam.enforcement.check``).
A refusal is AWS's error: ``AccessDeniedException`` (JSON APIs), ``AccessDenied`` (query APIs),
``AuthorizationError`` (SNS), with AWS's message (docs/aws-behaviour.md#iam-access-denied-errors).
Every request is also counted by caller, service and action (``sandbox.core.call_counts``),
IAM enforced or not.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from moto.core.exceptions import (
    InvalidClientTokenIdError,
    JsonRESTError,
    SignatureDoesNotMatchError,
    _RESTError,
)
from moto.utilities.utils import get_partition

from sandbox.core import call_counts
from sandbox.iam import admin, resource_policies
from sandbox.iam.authorizer import Denial
from sandbox.iam.condition_keys import condition_keys
from sandbox.iam.definitions import canonical_action, is_known_action
from sandbox.iam.enforcement import ALWAYS_ALLOWED, base_context, check, iam_settings
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
    # X-Ray's REST paths, as moto names its operations.
    "xray:TraceSummaries": "xray:GetTraceSummaries",
    "xray:Traces": "xray:BatchGetTraces",
}
# Creating calls that take Tags -> the tagging action they also need.
_TAGS_ON_CREATE = {"ssm:StartAutomationExecution": "ssm:AddTagsToResource"}
# Parameters that pass a role to a service: (action) -> (parameter path, service).
_PASSED_ROLES = {
    "ssm:StartAutomationExecution": (("Parameters", "AutomationAssumeRole"), "ssm.amazonaws.com"),
    "lambda:CreateFunction": (("Role",), "lambda.amazonaws.com"),
    "lambda:UpdateFunctionConfiguration": (("Role",), "lambda.amazonaws.com"),
    "states:CreateStateMachine": (("roleArn",), "states.amazonaws.com"),
    "states:UpdateStateMachine": (("roleArn",), "states.amazonaws.com"),
}


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


def _count(caller: str, prefix: str, action_name: str, response: Any) -> None:
    """One call in ``sandbox.core.call_counts`` (a DynamoDB call with what its capacity
    units depend on)."""
    if prefix != "dynamodb":
        call_counts.record(caller, prefix, action_name)
        return
    params = response.body if isinstance(response.body, dict) else _request_parameters(response)
    call_counts.record(
        caller,
        prefix,
        action_name,
        table=str(params.get("TableName") or ""),
        consistent_read=bool(params.get("ConsistentRead")),
    )


def _authorize_request(self: Any, resource: str = "*") -> None:
    headers = self.headers
    authorization = headers.get("Authorization") or ""
    if not iam_settings.enforce:
        # Not authenticated: the call is counted under its access key ID.
        fields = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        signing_name = fields[3] if len(fields) > 3 else self.service_name
        prefix = _PREFIX_OF_SIGNING_NAME.get(signing_name, signing_name)
        _count(fields[0] if len(fields) > 3 else "anonymous", prefix, self._get_action(), self)
        return
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
    _count(caller.role_arn or caller.arn, prefix, action_name, self)  # refused ones too
    operation = f"{prefix}:{action_name}"
    action = canonical_action(_ACTION_OF_OPERATION.get(operation, operation))
    if action in ALWAYS_ALLOWED:
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
    context = base_context(caller, region) | condition_keys(action, params)
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
