"""Fixtures for tests and benchmarks: real Inspect logs with a known truth (never used by a run or a report)."""
