"""The gate's SSM Automation document, rendered as Terraform renders it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCUMENT_TEMPLATE = REPO / "terraform/modules/approval_gate/templates/approval_document.yaml.tftpl"
TIMEOUT_SECONDS = 3600


def render_document(timeout_seconds: int = TIMEOUT_SECONDS) -> str:
    return DOCUMENT_TEMPLATE.read_text().replace("${timeout_seconds}", str(timeout_seconds))
