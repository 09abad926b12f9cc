"""Voting rules (placeholder docstring, replaced below)."""
