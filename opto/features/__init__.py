"""Ready-made building blocks on top of opto (Trace 0.2's ``opto.features``).

``opto.features.flows``: ``TracedLLM``, a traced LLM call with an optional chat history.
``opto.features.predefined_agents``: ``BasicLearner``, a one-prompt LLM agent to train.
"""
