"""Task suites written by others, run as discovery tasks with their own data and scorers.

Each suite needs its own package (the ``tasks`` extra) and is imported only when one of its
tasks is made. A task turns candidate code into a :class:`TaskResult` (``evaluate``) and, called,
into GEPA's ``(score, side_info)`` pair.
"""

from opto.discovery.suites.llm4ad import KNOWN_FLOORS, LLM4ADTask
from opto.discovery.suites.result import STATUSES, SuiteUnavailableError, TaskResult

__all__ = ["KNOWN_FLOORS", "STATUSES", "LLM4ADTask", "SuiteUnavailableError", "TaskResult"]
