"""Lifting SSM's API rate quotas of the local AWS, for tests about something else that make
SSM calls faster than SSM allows (clients that never retry, bursts of starts or reads). The
rates have their own tests (tests/functional/sandbox/test_rate_quotas.py);
docs/aws-behaviour.md#ssm-api-rate-quotas. `sandbox.reset()` puts AWS's figures back."""

from __future__ import annotations

import sandbox
from sandbox.core.settings import limits
from sandbox.ssm.rate_quotas import RATE_SETTINGS


def lift_ssm_rates() -> None:
    for setting in RATE_SETTINGS.values():
        setattr(sandbox.settings, setting, None)


def restore_ssm_rates() -> None:
    """AWS's figures again (the defaults), after lift_ssm_rates."""
    for limit in limits():
        if limit.name in RATE_SETTINGS.values():
            setattr(sandbox.settings, limit.name, limit.default)
