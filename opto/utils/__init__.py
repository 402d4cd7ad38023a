"""Helpers kept at Trace's import paths (`opto.utils.llm`)."""
