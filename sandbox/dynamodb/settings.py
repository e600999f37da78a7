"""DynamoDB's setting: how far a global secondary index lags (AWS documents no bound).
``sandbox`` registers it on ``sandbox.settings`` (``sandbox.core.settings``)."""

from __future__ import annotations

from sandbox.core.settings import Variant

VARIANTS: tuple[Variant, ...] = (
    Variant(
        "gsi_lag_seconds",
        (0, 2),
        "dynamodb-gsi-eventual-consistency",
        "a DynamoDB Query/Scan on a global secondary index sees items as they were this many "
        "real seconds ago",
        at_least=0,
    ),
)
