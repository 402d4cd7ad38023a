"""Tests, examples and demos write only into temporary or git-ignored folders."""

import pytest


def test_the_suite_leaves_the_repository_clean(git_tree):
    """Runs after every other test (see conftest.CLEAN_TREE_TEST)."""
    before, status_now = git_tree
    if before is None:
        pytest.skip("not a git checkout: nothing to compare")
    new = sorted(status_now() - before)
    assert new == [], f"the test session wrote into the repository: {new}"
