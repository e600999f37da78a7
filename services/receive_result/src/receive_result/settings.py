"""The function's configuration, read once from its environment (set by Terraform)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from receive_result.errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    table_name: str
    document_name: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        missing = [
            n for n in ("APPROVALS_TABLE_NAME", "APPROVAL_DOCUMENT_NAME") if not environ.get(n)
        ]
        if missing:
            raise ConfigurationError(
                f"{', '.join(missing)} (function environment) not set: deploy the function "
                "with the approval_gate Terraform module, or set it by hand."
            )
        return cls(
            table_name=environ["APPROVALS_TABLE_NAME"],
            document_name=environ["APPROVAL_DOCUMENT_NAME"],
        )
