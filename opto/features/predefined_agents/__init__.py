"""Predefined agents: ``BasicLearner`` (alias ``Learner``) and its ``call_llm`` helper."""

from opto.features.predefined_agents.learner import BasicLearner, Learner, call_llm

__all__ = ["BasicLearner", "Learner", "call_llm"]
