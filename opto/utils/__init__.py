"""Utilities shared across opto."""
