"""Benchmarks of the gate (docs/benchmarks.md); run from the repository's root."""
