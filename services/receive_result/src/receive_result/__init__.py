"""receive_result: delivers an SSM Automation approval's decision to its waiting workflow."""

__version__ = "0.7.0"
