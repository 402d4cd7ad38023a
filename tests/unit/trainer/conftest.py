"""Trainer tests start with an empty usage ledger and a private LLM cache folder."""

import pytest
from llm_isolation import clean_llm_state


@pytest.fixture(autouse=True)
def isolated_llm_state(tmp_path):
    with clean_llm_state(tmp_path / "global-llm-cache"):
        yield
