"""Utilities shared across opto (atomic files, Trace-compatible LLM names)."""
