"""AWS as the caller has it: credentials, profile, Region and `AWS_ENDPOINT_URL` read as the
AWS CLI reads them (boto3's own chain), clients that retry throttling with backoff, and AWS's
errors turned into messages and exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from approvals_cli.errors import CliError, ExitCode

# botocore's standard retry mode: exponential backoff with jitter on throttling
# (ThrottlingException, SSM's "Rate exceeded") and transient errors, up to 10 attempts.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10},
    connect_timeout=5,
    read_timeout=70,
    user_agent_extra="approvals-cli",
)

# A resource the deployment names that AWS does not have: the config is wrong or stale.
_MISSING = {
    "ResourceNotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "InvalidDocument",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation"}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
}


@dataclass(frozen=True)
class Caller:
    """Who the credentials are (STS GetCallerIdentity)."""

    arn: str
    account: str

    @property
    def kind(self) -> str:
        """ "user", "assumed-role" or "other"."""
        resource = self.arn.split(":", 5)[-1]
        if self.arn.startswith("arn:") and resource.startswith("user/"):
            return "user"
        if resource.startswith("assumed-role/"):
            return "assumed-role"
        return "other"

    @property
    def name(self) -> str:
        """The user's name, or the role's name of a session."""
        resource = self.arn.split(":", 5)[-1]
        if self.kind == "assumed-role":
            return resource.split("/")[1]
        return resource.rsplit("/", 1)[-1]


class Aws:
    def __init__(self, profile: str | None, region: str | None, fallback_region: str | None):
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region)
        except ProfileNotFound as error:
            raise CliError(
                f"{error}: see `aws configure list-profiles`", ExitCode.CONFIGURATION
            ) from None
        self.region = self.session.region_name or fallback_region
        if not self.region:
            raise CliError(
                "no AWS Region: give --region, set AWS_REGION, or configure one in your profile",
                ExitCode.CONFIGURATION,
            )
        self._clients: dict[str, Any] = {}

    def check_credentials(self) -> None:
        if self.session.get_credentials() is None:
            raise CliError(
                "no AWS credentials found: set AWS_PROFILE (or --profile), or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, as for the AWS CLI",
                ExitCode.CONFIGURATION,
            )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self.check_credentials()
            self._clients[service] = self.session.client(
                service,  # type: ignore[call-overload]  # one method for every service
                region_name=self.region,
                config=CLIENT_CONFIG,
            )
        return self._clients[service]

    @cached_property
    def caller(self) -> Caller:
        with aws_errors("who you are (sts:GetCallerIdentity)"):
            identity = self.client("sts").get_caller_identity()
        return Caller(identity["Arn"], identity["Account"])


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """AWS's refusals and failures as CliErrors that say what was being done."""
    try:
        yield
    except ClientError as error:
        code, message = error_code(error), error.response.get("Error", {}).get("Message", "")
        if code in _DENIED:
            raise CliError(f"AWS refused {doing}: {message}", ExitCode.REFUSED) from None
        if code in _MISSING:
            raise CliError(
                f"{doing}: AWS has no such resource ({code}: {message}): check the deployment "
                "(--terraform-dir, --config, APPROVALS_*) and the Region",
                ExitCode.CONFIGURATION,
            ) from None
        if code in _BAD_CREDENTIALS:
            raise CliError(
                f"your AWS credentials were not accepted ({code}: {message}): check AWS_PROFILE "
                "or the keys in your environment",
                ExitCode.CONFIGURATION,
            ) from None
        raise CliError(f"{doing} failed: {code}: {message}") from None
    except NoCredentialsError:
        raise CliError(
            "no AWS credentials found: set AWS_PROFILE (or --profile), or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, as for the AWS CLI",
            ExitCode.CONFIGURATION,
        ) from None
    except NoRegionError:
        raise CliError(
            "no AWS Region: give --region or set AWS_REGION", ExitCode.CONFIGURATION
        ) from None
    except EndpointConnectionError as error:
        raise CliError(
            f"cannot reach AWS for {doing} ({error}): check the network, or AWS_ENDPOINT_URL",
            ExitCode.CONFIGURATION,
        ) from None
    except BotoCoreError as error:
        raise CliError(f"{doing} failed: {error}") from None
