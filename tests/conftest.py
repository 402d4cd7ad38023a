"""Shared fixtures: every test starts with fresh name counters and tracing on; the state of the
git work tree is noted when the session starts, so the last test can check that the suite wrote
nothing inside the repository (except into git-ignored folders)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from opto.trace.graph import _TRACING, GRAPH

ROOT = Path(__file__).resolve().parents[1]
CLEAN_TREE_TEST = "test_the_suite_leaves_the_repository_clean"
TREE_AT_START = pytest.StashKey[set]()


def git_status() -> set[str] | None:
    """`git status --porcelain` lines of the repository, or None outside a git checkout."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.splitlines())


def pytest_sessionstart(session):
    session.config.stash[TREE_AT_START] = git_status()


def pytest_collection_modifyitems(items):
    """The clean-tree check runs after every other test."""
    items.sort(key=lambda item: item.name == CLEAN_TREE_TEST)


@pytest.fixture
def git_tree(pytestconfig):
    """(git status lines when the session started, the function that reads them now)."""
    return pytestconfig.stash[TREE_AT_START], git_status


@pytest.fixture(autouse=True)
def fresh_graph():
    GRAPH.clear()
    token = _TRACING.set(True)
    yield
    _TRACING.reset(token)
    GRAPH.clear()


@pytest.fixture(autouse=True)
def private_llm_cache(tmp_path_factory, monkeypatch):
    """Each test's default LLM cache is its own empty folder: a test that turns the cache on
    must not find replies that an earlier run left in the user's cache folder."""
    monkeypatch.setenv("OPTO_CACHE_DIR", str(tmp_path_factory.mktemp("llm-cache")))
