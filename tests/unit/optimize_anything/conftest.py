"""optimize_anything tests start with an empty usage ledger and a private LLM cache folder."""

import warnings

import pytest

import opto.llm as llm_pkg


@pytest.fixture(autouse=True)
def isolated_llm_state(tmp_path):
    llm_pkg.reset_usage()
    llm_pkg.configure_cache(enabled=None, directory=tmp_path / "global-llm-cache")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="OptoPrime: no suggestion")
        yield
    llm_pkg.get_cache().close()
    llm_pkg.reset_usage()
