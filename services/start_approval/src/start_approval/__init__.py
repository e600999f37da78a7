"""start_approval: starts an SSM Automation approval for a waiting Step Functions task."""

__version__ = "0.6.1"
