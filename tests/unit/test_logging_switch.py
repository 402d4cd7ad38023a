"""One switch for opto's log output: quiet except warnings by default, `set_log_level` and
`OPTO_LOG_LEVEL` to see more, no change to the root logger, and a scope that restores."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

import pytest

import opto
from opto.utils.logging_setup import (
    OptoLogHandler,
    configure_from_environment,
    log_level_scope,
    opto_logger,
    parse_level,
    set_log_level,
)

PROBE = (
    "import logging, opto\n"
    "log = logging.getLogger('opto.probe')\n"
    "log.info('an info line')\n"
    "log.warning('a warning line')\n"
    "print('root handlers', len(logging.getLogger().handlers))\n"
)


@pytest.fixture(autouse=True)
def restore_opto_logger():
    logger = opto_logger()
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "OPTO_LOG_LEVEL"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )


def test_by_default_only_warnings_are_printed_and_the_root_logger_is_untouched():
    result = run_python(PROBE)
    assert "a warning line" in result.stderr
    assert "an info line" not in result.stderr
    assert "root handlers 0" in result.stdout


def test_the_environment_variable_turns_on_info_with_a_handler_on_opto_only():
    result = run_python(PROBE, OPTO_LOG_LEVEL="info")
    assert "INFO opto.probe: an info line" in result.stderr
    assert "WARNING opto.probe: a warning line" in result.stderr
    assert "root handlers 0" in result.stdout


def test_a_bad_environment_value_is_ignored_with_a_warning():
    result = run_python(PROBE, OPTO_LOG_LEVEL="loud")
    assert "OPTO_LOG_LEVEL is ignored" in result.stderr
    assert "an info line" not in result.stderr


def test_set_log_level_from_python_shows_info_lines():
    code = "import opto\nopto.set_log_level('INFO')\n" + PROBE.replace(
        "import logging, opto\n", "import logging\n"
    )
    result = run_python(code)
    assert "INFO opto.probe: an info line" in result.stderr


def test_an_application_that_configured_logging_keeps_its_handlers():
    code = (
        "import logging, opto\n"
        "logging.basicConfig(format='APP %(name)s %(message)s')\n"
        "opto.set_log_level('DEBUG')\n"
        "logging.getLogger('opto.probe').debug('a debug line')\n"
        "print(len(logging.getLogger('opto').handlers))\n"
    )
    result = run_python(code)
    assert result.stderr.strip() == "APP opto.probe a debug line"
    assert result.stdout.strip() == "0"


def test_levels_by_name_or_number_and_a_clear_error_otherwise():
    assert parse_level("debug") == logging.DEBUG
    assert parse_level(" Warn ") == logging.WARNING
    assert parse_level("15") == 15
    assert parse_level(logging.ERROR) == logging.ERROR
    for bad in ("loud", True, None, 2.5):
        with pytest.raises(ValueError, match="DEBUG, INFO, WARNING"):
            parse_level(bad)


def test_set_log_level_sets_the_opto_logger_level_and_is_exported():
    assert opto.set_log_level is set_log_level
    set_log_level("ERROR")
    assert opto_logger().level == logging.ERROR
    assert not logging.getLogger("opto.llm.base").isEnabledFor(logging.WARNING)


def test_the_handler_is_added_once_and_writes_to_the_given_stream(monkeypatch):
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a script that set nothing
    first, second = io.StringIO(), io.StringIO()
    set_log_level("INFO", stream=first)
    set_log_level("DEBUG", stream=second)
    own = [h for h in opto_logger().handlers if isinstance(h, OptoLogHandler)]
    assert len(own) == 1
    logging.getLogger("opto.probe").debug("to the second stream")
    assert "to the second stream" in second.getvalue() and not first.getvalue()


def test_a_scope_restores_level_and_handlers(monkeypatch):
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    logger = opto_logger()
    before_level, before_handlers = logger.level, list(logger.handlers)
    with log_level_scope("DEBUG"):
        assert logger.level == logging.DEBUG
        assert any(isinstance(h, OptoLogHandler) for h in logger.handlers)
    assert logger.level == before_level
    assert logger.handlers == before_handlers
    with log_level_scope(None):
        assert logger.level == before_level


def test_configure_from_environment_reads_the_given_mapping():
    configure_from_environment({"OPTO_LOG_LEVEL": "debug"})
    assert opto_logger().level == logging.DEBUG
    configure_from_environment({})
    assert opto_logger().level == logging.DEBUG
    with pytest.warns(UserWarning, match="OPTO_LOG_LEVEL is ignored"):
        configure_from_environment({"OPTO_LOG_LEVEL": "chatty"})
