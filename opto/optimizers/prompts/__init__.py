"""Prompt templates, one module per optimizer family."""
