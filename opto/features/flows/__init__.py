"""Traced LLM flows: ``compose.TracedLLM`` and ``compose.ChatHistory``; ``types.TraceObject``."""
