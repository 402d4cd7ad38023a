"""Where a run of the loop writes: the user's logger and, with ``run_dir=``, the run directory.

The run directory (``opto.trainer.checkpoint.RunDirectory``) gets ``config.json`` and
``datasets.json`` when a run starts, ``run.jsonl`` (every step record and event),
``proposals.jsonl`` (every optimizer step), and at each checkpoint ``checkpoint.json`` (the
``RunState``) with ``best_model.json``. Without a run directory only the logger hears of the run.
"""

from __future__ import annotations

import os
from typing import Any

from opto.trainer.checkpoint import RunDirectory
from opto.trainer.loggers import BaseLogger, CompositeLogger, JSONLinesLogger
from opto.trainer.run_record import ProposalLog


class RunOutput:
    """The logger, run files and proposal log of one run.

    Args:
        logger: the user's logger.
        run_dir: the run directory (None: no files).
    """

    def __init__(self, logger: BaseLogger, run_dir: str | os.PathLike | None) -> None:
        self.directory = RunDirectory(run_dir) if run_dir else None
        self.events = JSONLinesLogger(self.directory.log_path) if self.directory else None
        self.log = CompositeLogger(logger, self.events)
        self.proposals = ProposalLog(self.directory.proposals_path if self.directory else None)
        if self.directory:
            self.directory.remove_leftovers()

    def has_checkpoint(self) -> bool:
        """Whether an earlier session of this run directory left a checkpoint."""
        return bool(self.directory and self.directory.has_checkpoint())

    def read_checkpoint(self) -> Any:
        """The parsed checkpoint of an earlier session (untrusted: see ``RunState.from_json``)."""
        return self.directory.read_checkpoint()

    def record_start(self, config: dict[str, Any], datasets: dict[str, dict | None]) -> None:
        """Write ``config.json`` and (when JSON holds them exactly) ``datasets.json``."""
        if self.directory:
            self.directory.write_config(config)
            self.directory.write_datasets(datasets)

    def checkpoint(self, document: dict[str, Any], model: Any, step: int) -> None:
        """Write the checkpoint ``document`` and the values of ``model``, and log that the
        checkpoint of ``step`` was written (nothing without a run directory)."""
        if self.directory is None:
            return
        self.directory.write_checkpoint(document)
        self.directory.write_model(model)
        self.events.log_event("checkpoint", {"step": step})

    def event(self, name: str, step: int, message: str, **fields: Any) -> None:
        """Log the event ``name`` (``start``, ``resume``, ``refused``, ``stop``, ``summary``)
        at ``step`` with the text ``message``; ``fields`` are extra data of the record."""
        self.log.log_event(name, {"step": step, "message": message, **fields})

    def close(self) -> None:
        """Flush and close the logs and the proposal log at the end of the run."""
        self.log.close()
        self.proposals.close()
