"""Shared by the approval gate's services: the records table and the observability set-up."""

__version__ = "0.7.0"
