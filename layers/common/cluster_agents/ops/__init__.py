"""Operator tools that run against a deployed (or local) table, read-only."""
